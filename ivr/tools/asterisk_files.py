"""The Asterisk configuration files of this installation: templates read from ``config/asterisk/``
and ``dialplans/``, rendered by ``ivr.core.asterisk_render`` (``ivr asterisk render DIR``, and
the test bed's Asterisk)."""

from __future__ import annotations

from pathlib import Path

from ivr.core.asterisk_render import STATIC_FILES, render_all, render_includes
from ivr.core.settings import Settings


def read_templates(project_dir: Path) -> dict[str, str]:
    """The static files and the dialplan template, by file name (blocking: file reads)."""
    static_dir = project_dir / "config" / "asterisk"
    templates = {name: (static_dir / name).read_text(encoding="utf-8") for name in STATIC_FILES}
    templates["extensions.conf"] = (project_dir / "dialplans" / "extensions.conf").read_text(
        encoding="utf-8")
    return templates


def asterisk_files(settings: Settings, secret: str) -> dict[str, str]:
    """Every file Asterisk reads for the hotline, by name."""
    return render_all(settings, secret, read_templates(settings.project_dir))


def asterisk_includes(settings: Settings, secret: str) -> dict[str, str]:
    """For an existing Asterisk: the hotline's sections as ``ivr-<file>`` include files."""
    return render_includes(settings, secret, read_templates(settings.project_dir))
