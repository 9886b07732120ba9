"""The plain-dialplan reference IVR the load benchmark compares the hotline with (test bed only):
the same menu written in Asterisk's dialplan alone, reached at ``REFERENCE_NUMBER``."""

from __future__ import annotations

from ivr.core.settings import Settings

REFERENCE_NUMBER = "12399"


def render_reference_ivr(settings: Settings) -> str:
    """The benchmark's plain-dialplan IVR, and the citizens' extension that reaches it."""
    text = (settings.project_dir / "dialplans" / "reference-ivr.conf").read_text(
        encoding="utf-8")
    for key, value in (("reference_number", REFERENCE_NUMBER),
                       ("default_language", settings.default_language),
                       ("general_queue", settings.menu.general_queue)):
        text = text.replace("{{" + key + "}}", value)
    return text


def with_reference_ivr(settings: Settings, dialplan: str) -> str:
    """``dialplan`` (a rendered extensions.conf) with the reference IVR added: its number joins
    the citizens' context (right under its header: whatever context follows [citizens] in the
    glue, the number lands in it); its contexts follow."""
    header = "[citizens]\n"
    if header not in dialplan:
        raise ValueError("the rendered dialplan has no [citizens] context")
    entry = f"exten => {REFERENCE_NUMBER},1,Goto(reference-ivr,s,1)\n"
    dialplan = dialplan.replace(header, header + entry, 1)
    return dialplan + "\n" + render_reference_ivr(settings)
