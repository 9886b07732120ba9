"""Render the Asterisk configuration the hotline needs from its settings and templates.

Pure: settings, the AMI secret and the template files' texts (``config/asterisk/`` and
``dialplans/extensions.conf``, read by ``ivr.tools.asterisk_files``) in, ``{file name: text}``
out. Used by the test bed and by ``ivr asterisk render DIR`` for an existing Asterisk.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Final

from ivr.core.flow import QUEUE_NEXT, QUEUE_PLACE, QUEUE_PLACE_END, QUEUE_THANKS
from ivr.core.protocols.ami import SUBSCRIBED_EVENTS
from ivr.core.routing import (
    GENERAL_POOL_PENALTY,
    language_queue,
    personal_queue,
    render_queuerules,
)
from ivr.core.settings import Operator, Settings

STATIC_FILES = (
    "asterisk.conf", "modules.conf", "rtp.conf", "logger.conf", "musiconhold.conf",
    "http.conf", "prometheus.conf", "features.conf",
)
PLACEHOLDERS = (
    "agi_url", "agi_failover_url", "service_number", "general_queue", "default_language",
    "transfer_endpoint", "callback_endpoint", "general_pool_penalty", "record_gosub",
    "recording_dir", "recording_format",
)
SECRET_FILES = frozenset({"manager.conf", "extensions.conf"})
"""Rendered files holding a secret (AMI's; the FastAGI secret in the AGI URLs): mode 0600."""
TRANSFER_ENDPOINT = "departments"
TRANSFER_CONTEXT = "transfer"  # an operator sends the caller to a department (AMI Redirect)
CALLBACK_ENDPOINT = "callbacks"
SPY_CONTEXT = "supervise"  # a supervisor's phone joins an operator's call (AMI Originate)


def agi_url(settings: Settings, address: str = "") -> str:
    """The FastAGI URL the dialplan calls (this node's, or ``address``: another node's), with
    the installation's secret: the server refuses a session without it."""
    if not settings.agi.secret:
        raise ValueError("no FastAGI secret: it is generated at set-up (secrets.json)")
    where = address or f"{settings.agi.host}:{settings.agi.port}"
    return f"agi://{where}/ivr?secret={settings.agi.secret}"


def render_manager(settings: Settings, secret: str) -> str:
    if not secret:
        raise ValueError("no AMI secret: run `ivr sandbox up` or set IVR_AMI_SECRET")
    a = settings.ami
    # Only the classes the application uses: no command or config; system is read-only
    # events (FullyBooted tells the client when a restarting Asterisk is ready).
    return (
        "[general]\nenabled = yes\n"
        f"port = {a.port}\nbindaddr = {a.host}\ndisplayconnects = no\n"
        "authtimeout = 10\nauthlimit = 20\n\n"
        f"[{a.username}]\nsecret = {secret}\n"
        "deny = 0.0.0.0/0.0.0.0\npermit = 127.0.0.1/255.255.255.255\n"
        # Read: queue and channel events (call, agent), queue_log-like reporting, the
        # dialplan's UserEvents (user) and system (FullyBooted: a restarting Asterisk is
        # ready); not dialplan (every Newexten and VarSet of every call).
        "read = system,call,agent,reporting,user\n"
        # originate: callbacks ring an operator, then the citizen.
        "write = call,agent,reporting,originate\n"
        # Only the events the application handles reach it (matched by name: a hash compare
        # in Asterisk, no regular expression): about 90 % of a call's events never leave.
        + "".join(f"eventfilter(action(include),name({name})) =\n"
                  for name in SUBSCRIBED_EVENTS)
    )


_ENDPOINT_COMMON = (
    "disallow = all\nallow = ulaw,alaw\n"
    "direct_media = no\nsend_connected_line = no\nrtp_symmetric = yes\n"
    # No DNS here: a fixed media address avoids per-call look-ups (see TESTBED.md).
    "media_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n"
    "dtmf_mode = rfc4733\nice_support = no\n"
)


def comment(text: str) -> str:
    """``text`` as one line of an Asterisk config comment: control characters and line or
    paragraph separators become spaces, so an edited name can never start a line (a section
    or a setting) of its own; ``;--`` cannot open a block comment after the line's ``; ``."""
    return "".join(" " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch for ch in text)


def _operator_pjsip(op: Operator) -> str:
    return (
        f"; {comment(op.name)}\n[{op.endpoint}]\ntype = endpoint\ncontext = operators\n"
        f"aors = {op.endpoint}\ncallerid = {op.id} <{op.id}>\n{_ENDPOINT_COMMON}\n"
        f"[{op.endpoint}]\ntype = aor\ncontact = {op.contact}\nmax_contacts = 1\n"
        "qualify_frequency = 0\n\n"
    )


def render_pjsip(settings: Settings) -> str:
    sip = settings.sip
    parts = [
        "[global]\ntype = global\nuser_agent = 12345-hotline\n\n",
        f"[transport-udp]\ntype = transport\nprotocol = udp\nbind = {sip.host}:{sip.port}\n\n",
        # Citizens arrive from the SIP trunk / proxy; in the sandbox, SIPp phones on loopback.
        f"[citizens]\ntype = endpoint\ncontext = citizens\n{_ENDPOINT_COMMON}\n",
        "[citizens-identify]\ntype = identify\nendpoint = citizens\nmatch = 127.0.0.1\n\n",
    ]
    parts += [_operator_pjsip(op) for op in settings.operators.values()]
    # Transfers from the flow dial <number>@departments (the city departments' gateway);
    # callbacks dial <citizen number>@callbacks (the gateway out to citizens' phones).
    for name, contact in ((TRANSFER_ENDPOINT, settings.sip.transfer_contact),
                          (CALLBACK_ENDPOINT, settings.sip.callback_contact)):
        parts.append(
            f"[{name}]\ntype = endpoint\ncontext = operators\n"
            f"aors = {name}\n{_ENDPOINT_COMMON}\n"
            f"[{name}]\ntype = aor\ncontact = {contact}\nqualify_frequency = 0\n\n"
        )
    return "".join(parts)


WRAP_UP_SECONDS = 3


def _queue(
    name: str, note: str, settings: Settings, service_level: int, *, widens: bool = False
) -> str:
    # Only a skill's own queue widens by level over time; the general queue, lang-* and op-*
    # offer a call to every member at once.
    rule = f"defaultrule = {settings.routing.rule_name}\n" if widens else ""
    return (
        f"; {comment(note)}\n[{name}]\n"
        "strategy = leastrecent\ntimeout = 15\nretry = 1\n"
        f"wrapuptime = {WRAP_UP_SECONDS}\n"
        # An operator who lets a call ring out is paused in every queue (with a reason).
        "autopause = all\nautopausedelay = 0\n"
        f"{rule}"
        # While waiting, every offer_every seconds: "press 1 to be called back instead".
        "context = queue-exit\nperiodic-announce = ivr/callback-offer\n"
        f"periodic-announce-frequency = {settings.callbacks.offer_every}\n"
        "relative-periodic-announce = yes\n"
        "ringinuse = no\njoinempty = yes\nleavewhenempty = no\nmusicclass = default\n"
        f"servicelevel = {service_level}\n{_position_updates(settings.routing.position_every)}\n"
    )


def _position_updates(every: int) -> str:
    """app_queue tells a waiting caller their place: when they join (if not answered at
    once) and every ``every`` seconds, in their channel's language; its place counts the
    callers ahead in this queue, which app_queue orders by priority, so only those who will
    really be served first. The words are the catalog's (``POSITION_PROMPTS``); numbers are
    Asterisk's ``digits/`` files (Mandarin ones built from the catalog's number words, see
    ``ivr.core.flow.ASTERISK_DIGITS``). No hold-time figure: app_queue's is its own average,
    not the live figures'. 0: no updates."""
    if not every:
        return "announce-frequency = 0\n"
    return (
        f"announce-frequency = {every}\nmin-announce-frequency = {every}\n"
        "announce-position = yes\nannounce-holdtime = no\n"
        f"queue-youarenext = {QUEUE_NEXT}\nqueue-thereare = {QUEUE_PLACE}\n"
        f"queue-callswaiting = {QUEUE_PLACE_END}\nqueue-thankyou = {QUEUE_THANKS}\n"
    )


def render_queues(settings: Settings) -> str:
    """One queue per skill, plus the later stages of a caller's wait (ivr.core.routing.plan_stages):
    ``lang-<language>`` (every operator speaking it) and ``op-<id>`` (one operator, for the
    repeat caller whose open case they handled); the general queue is a skill queue where
    every operator is a member."""
    # Operators are dynamic members, added at login through AMI. They are persistent
    # (astdb), so a restart of Asterisk keeps who is logged in, and the general queue keeps
    # working as the fallback even while the application is down.
    header = (
        "[general]\npersistentmembers = yes\nautofill = yes\nshared_lastcall = yes\n"
        # queue_log names the member by interface (the operator's own, unique): the
        # reconciliation (ivr.calls.reconcile) knows who answered from it.
        "log_membername_as_agent = no\n\n"
    )
    general_sl = settings.skills[settings.menu.general_queue].service_level.seconds
    queues = [
        _queue(skill.id, f"{skill.names.get('en', skill.id)} ({skill.department})", settings,
               skill.service_level.seconds, widens=skill.id != settings.menu.general_queue)
        for skill in settings.skills.values()
    ]
    queues += [
        _queue(language_queue(lang), f"any operator speaking {lang}", settings, general_sl)
        for lang in settings.languages
    ]
    queues += [
        _queue(personal_queue(op.id), f"{op.name} alone (a repeat caller's operator)", settings,
               general_sl)
        for op in settings.operators.values()
    ]
    return header + "".join(queues)


RECORD_CONTEXT = "record-call"


def _recording_values(settings: Settings) -> dict[str, str]:
    """Queue()'s gosub argument (a context, run at ``s,1`` on the member's channel once they
    answer) starting MixMonitor on the call id the member's channel inherited; empty when
    recording is off."""
    rec = settings.recordings
    return {
        "record_gosub": RECORD_CONTEXT if rec.enabled else "",
        "recording_dir": rec.asterisk_directory,
        "recording_format": rec.format,
    }


def render_dialplan(settings: Settings, template: str) -> str:
    """``dialplans/extensions.conf`` (``template``) with this installation's values."""
    values = {
        "agi_url": agi_url(settings),
        "agi_failover_url": (agi_url(settings, settings.agi.failover) if settings.agi.failover
                             else ""),
        "service_number": settings.sip.service_number,
        "general_queue": settings.menu.general_queue,
        "default_language": settings.default_language,
        "transfer_endpoint": TRANSFER_ENDPOINT,
        "callback_endpoint": CALLBACK_ENDPOINT,
        "general_pool_penalty": str(GENERAL_POOL_PENALTY),
        **_recording_values(settings),
    }
    text = template
    for key in PLACEHOLDERS:
        text = text.replace("{{" + key + "}}", values[key])
    return text


def render_all(settings: Settings, secret: str, templates: Mapping[str, str]) -> dict[str, str]:
    """Every file Asterisk reads: ``templates`` holds the static files (``STATIC_FILES``) and
    ``extensions.conf``, the dialplan template, by file name."""
    files = {name: templates[name] for name in STATIC_FILES}
    files["manager.conf"] = render_manager(settings, secret)
    files["pjsip.conf"] = render_pjsip(settings)
    files["queues.conf"] = render_queues(settings)
    files["queuerules.conf"] = render_queuerules(settings.routing)
    files["extensions.conf"] = render_dialplan(settings, templates["extensions.conf"])
    return files


# -- an existing Asterisk: include files beside the user's own ------------------------------

INCLUDED_IN: Final = ("manager.conf", "pjsip.conf", "queues.conf", "queuerules.conf",
                      "extensions.conf", "features.conf")
"""The user's files that get one ``#include`` line each; nothing else of theirs is touched
(never ``modules.conf``, ``asterisk.conf`` or ``logger.conf``: their modules stay theirs)."""
_THEIRS: Final = {
    # Sections the user's own file owns: the hotline's values for them are told, not written.
    "manager.conf": frozenset({"general"}),
    "pjsip.conf": frozenset({"global", "transport-udp"}),
    "queues.conf": frozenset({"general"}),
    "extensions.conf": frozenset({"general"}),
    "features.conf": frozenset({"general", "applicationmap"}),
}
_EXPECTS: Final = {
    "manager.conf": "[general] enabled = yes, bound where [ami] host/port point",
    "pjsip.conf": "a transport the endpoints below can use (the first one is their default)",
    "queues.conf": "[general] persistentmembers = yes (logged-in operators survive a "
                   "restart); log_membername_as_agent = no (the default: queue_log names "
                   "the operator's interface, which the records are reconciled from)",
    "queuerules.conf": "nothing: the rule below is the hotline's own",
    "extensions.conf": "nothing: the contexts below are the hotline's own ([citizens] is "
                       "the 12345 entry; point your trunk's inbound context at it)",
    "features.conf": "a [featuremap] section above the #include (the stock file has one): "
                     "the line below adds the attended-transfer code to it; [general] "
                     "atxferdropcall = no (the default: a consultation the department does "
                     "not answer returns to the operator)",
}


def include_name(file: str) -> str:
    """``manager.conf`` -> ``ivr-manager.conf``."""
    return f"ivr-{file}"


def include_line(file: str) -> str:
    """The line the admin adds at the end of their own ``file``."""
    return f'#include "{include_name(file)}"'


def render_includes(
    settings: Settings, secret: str, templates: Mapping[str, str]
) -> dict[str, str]:
    """For an Asterisk that has its own configuration: ``ivr-<file>`` for each file of
    ``INCLUDED_IN``, holding only the hotline's own sections (the user's ``[general]``,
    ``[global]`` and transport stay theirs; what the hotline expects of them is said in the
    file's header). ``features.conf``'s feature code is added to the user's ``[featuremap]``
    (``[featuremap](+)``)."""
    full = render_all(settings, secret, templates)
    out = {}
    for file in INCLUDED_IN:
        body = _without_sections(full[file], _THEIRS.get(file, frozenset()))
        if file == "features.conf":
            body = body.replace("[featuremap]\n", "[featuremap](+)\n")
        out[include_name(file)] = (
            f"; The 12345 hotline's part of {file}, rendered by `ivr asterisk render --include`\n"
            f"; from config/ and dialplans/ (render again after editing them, never edit this).\n"
            f"; Add at the end of your {file}:  {include_line(file)}\n"
            f"; Your {file} keeps its own sections; the hotline expects of it: "
            f"{_EXPECTS[file]}.\n\n" + body
        )
    return out


def _without_sections(text: str, theirs: frozenset[str]) -> str:
    """``text`` without the sections named ``theirs`` (comments and blank lines just before a
    section header go with that section)."""
    kept: list[str] = []
    pending: list[str] = []  # comments and blank lines, until the next line says whose
    dropping = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            name = stripped[1:].split("]", 1)[0]
            dropping = name in theirs
            if not dropping:
                kept += pending
            pending = []
            if not dropping:
                kept.append(line)
        elif not stripped or stripped.startswith(";"):
            pending.append(line)
        else:
            if not dropping:
                kept += pending
                kept.append(line)
            pending = []
    if not dropping:
        kept += pending
    return "".join(kept).lstrip("\n")
