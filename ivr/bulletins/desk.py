"""Emergency bulletins: posted by a supervisor, played by the flow's ``bulletin`` node to every
caller whose language has a text, until they expire or are withdrawn.

Posting stores the bulletin, then synthesises its audio per language (espeak-ng, off the event
loop) as the sound ``bulletins/<id>`` in Asterisk's sounds directory. A bulletin becomes
active for new calls only once its audio exists, so no caller hears silence. Calls ask for the
active bulletin through ``active()``, cached for a second (one query per second, not per call).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import structlog

from ivr.core.flow import ActiveBulletin
from ivr.core.settings import Settings
from ivr.edges.store import Bulletin, CallStore
from ivr.errors import AudioError, IvrError, StorageError
from ivr.tools.prompts import VOICES, speak

log = structlog.get_logger("ivr.bulletins.desk")

MAX_TEXT = 1000  # characters per language: about a minute of speech
CACHE_SECONDS = 1.0


def sounds_dir(settings: Settings) -> Path:
    """Asterisk's sounds directory: configured, else the test bed's."""
    if settings.asterisk_sounds is not None:
        return settings.asterisk_sounds
    from ivr.testbed.sandbox import Sandbox  # noqa: PLC0415 - only when no directory is configured

    sandbox = Sandbox(settings)
    return sandbox.resolve_inside(sandbox.root / "usr/share/asterisk/sounds")


class BulletinDesk:
    def __init__(self, settings: Settings, store: CallStore) -> None:
        self._settings = settings
        self._store = store
        self._cached: tuple[float, ActiveBulletin | None] = (0.0, None)

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings

    async def post(
        self, texts: Mapping[str, str], expires_at: datetime, actor: str
    ) -> Bulletin:
        now = datetime.now(UTC)
        cleaned = {lang: " ".join(text.split()) for lang, text in texts.items() if text.strip()}
        if not cleaned:
            raise IvrError("a bulletin needs a text in at least one language")
        for lang, text in cleaned.items():
            if lang not in self._settings.languages or lang not in VOICES:
                raise IvrError(f"language {lang!r} is not enabled for bulletins")
            if len(text) > MAX_TEXT:
                raise IvrError(f"the {lang} text is longer than {MAX_TEXT} characters")
        if expires_at <= now:
            raise IvrError("the expiry is in the past")
        # The audio first (under temporary names), so the bulletin is never active silently.
        try:
            made = await asyncio.to_thread(self._synthesise, cleaned)
        except (AudioError, OSError) as exc:
            raise IvrError(f"the bulletin's audio could not be made: {exc}") from exc
        try:
            bulletin = await self._store.add_bulletin(cleaned, now, expires_at, actor, now)
        except StorageError:
            await asyncio.to_thread(_place, made, None)
            raise
        await asyncio.to_thread(_place, made, bulletin.id)
        await self._store.audit(actor, "bulletin.post", f"bulletin {bulletin.id}",
                                {"texts": cleaned, "expires_at": expires_at.isoformat()}, now)
        self._cached = (0.0, None)
        log.info("bulletin_posted", id=bulletin.id, languages=sorted(cleaned), by=actor,
                 expires_at=expires_at.isoformat())
        return bulletin

    async def withdraw(self, bulletin_id: int, actor: str) -> Bulletin:
        now = datetime.now(UTC)
        bulletin = await self._store.withdraw_bulletin(bulletin_id, now)
        await self._store.audit(actor, "bulletin.withdraw", f"bulletin {bulletin_id}", {}, now)
        self._cached = (0.0, None)
        log.info("bulletin_withdrawn", id=bulletin_id, by=actor)
        return bulletin

    async def listing(self) -> list[Bulletin]:
        return await self._store.bulletins()

    async def active(self) -> ActiveBulletin | None:
        """The newest active bulletin, for a call arriving now (cached for a second)."""
        at, cached = self._cached
        if time.monotonic() - at < CACHE_SECONDS:
            return cached
        try:
            found = await self._store.active_bulletins(datetime.now(UTC))
        except StorageError as exc:
            log.error("bulletins_unavailable", error=str(exc))
            found = []
        active = ActiveBulletin(str(found[0].id), dict(found[0].texts)) if found else None
        self._cached = (time.monotonic(), active)
        return active

    def _synthesise(self, texts: Mapping[str, str]) -> list[Path]:
        root = sounds_dir(self._settings)
        made = []
        try:
            for lang, text in texts.items():
                folder = root / lang / "bulletins"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".new-{os.getpid()}-{time.monotonic_ns()}.wav"
                made.append(tmp)
                speak(text, lang, tmp)
                tmp.chmod(0o644)
        except BaseException:
            _place(made, None)
            raise
        return made


def _place(made: list[Path], bulletin_id: int | None) -> list[Path]:
    """Give the synthesised files their bulletin's name (or remove them: ``None``)."""
    placed = []
    for tmp in made:
        if bulletin_id is None:
            tmp.unlink(missing_ok=True)
        elif tmp.exists():
            placed.append(tmp.replace(tmp.with_name(f"{bulletin_id}.wav")))
    return placed
