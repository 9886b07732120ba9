"""Emergency bulletins: posted by a supervisor, played by the flow's ``bulletin`` node to every
caller whose language has a text, until they expire or are withdrawn.

Posting stores the bulletin, then synthesises its audio per language (espeak-ng, off the event
loop) as the sound ``bulletins/<id>`` in Asterisk's sounds directory (``sounds_dir``, given by
the composition root). A bulletin becomes active for new calls only once its audio exists, so
no caller hears silence. Calls ask for the active bulletin through ``active()``, cached for a
second (one query per second, not per call).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import structlog

from ivr.core.flow import ActiveBulletin
from ivr.core.records import Bulletin
from ivr.core.settings import Settings
from ivr.edges.audio import VOICES, duration_seconds, speak
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.audit import AuditLog
from ivr.edges.storage.bulletins import Bulletins
from ivr.errors import AudioError, Refused, StorageError

log = structlog.get_logger("ivr.bulletins.desk")

MAX_TEXT = 1000  # characters per language: about a minute of speech
PLAY_MARGIN = 5.0
"""Seconds kept between the longest bulletin and the AGI command timeout: a prompt that
outlasts the timeout would end the call's IVR as if the caller had hung up."""
CACHE_SECONDS = 1.0


class BulletinDesk:
    def __init__(
        self, settings: Settings, bulletins: Bulletins, audit: AuditLog,
        sounds_dir: Path | None, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._bulletins = bulletins
        self._audit = audit
        self._sounds_dir = sounds_dir
        self._clock = clock
        self._cached: tuple[float, ActiveBulletin | None] = (0.0, None)

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def play_limit(self) -> float:
        """The longest a bulletin may play, in seconds (checked at posting)."""
        return self._settings.agi.command_timeout - PLAY_MARGIN

    async def post(
        self, texts: Mapping[str, str], expires_at: datetime, actor: str
    ) -> Bulletin:
        now = self._clock.now()
        cleaned = {lang: " ".join(text.split()) for lang, text in texts.items() if text.strip()}
        if not cleaned:
            raise Refused("a bulletin needs a text in at least one language")
        for lang, text in cleaned.items():
            if lang not in self._settings.languages or lang not in VOICES:
                raise Refused(f"language {lang!r} is not enabled for bulletins")
            if len(text) > MAX_TEXT:
                raise Refused(f"the {lang} text is longer than {MAX_TEXT} characters")
        if expires_at <= now:
            raise Refused("the expiry is in the past")
        if self._sounds_dir is None:
            raise Refused("no Asterisk sounds directory to write the bulletin's audio to "
                          "([paths] asterisk_sounds)")
        # The audio first (under temporary names), so the bulletin is never active silently.
        try:
            made = await asyncio.to_thread(_synthesise, self._sounds_dir, cleaned)
            lengths = await asyncio.to_thread(lambda: [duration_seconds(p) for p in made])
        except (AudioError, OSError) as exc:
            raise Refused(f"the bulletin's audio could not be made: {exc}") from exc
        limit = self.play_limit
        too_long = [(lang, seconds) for lang, seconds in zip(cleaned, lengths, strict=True)
                    if seconds > limit]
        if too_long:
            await asyncio.to_thread(_place, made, None)
            lang, seconds = too_long[0]
            raise Refused(
                f"the {lang} text lasts {seconds:.0f} s when spoken; a bulletin may last at "
                f"most {limit:.0f} s (agi.command_timeout minus {PLAY_MARGIN:g} s): shorten it")
        try:
            bulletin = await self._bulletins.add(cleaned, now, expires_at, actor, now)
        except StorageError:
            await asyncio.to_thread(_place, made, None)
            raise
        await asyncio.to_thread(_place, made, bulletin.id)
        await self._audit.record(actor, "bulletin.post", f"bulletin {bulletin.id}",
                                 {"texts": cleaned, "expires_at": expires_at.isoformat()}, now)
        self._cached = (0.0, None)
        log.info("bulletin_posted", id=bulletin.id, languages=sorted(cleaned), by=actor,
                 expires_at=expires_at.isoformat())
        return bulletin

    async def withdraw(self, bulletin_id: int, actor: str) -> Bulletin:
        now = self._clock.now()
        bulletin = await self._bulletins.withdraw(bulletin_id, now)
        await self._audit.record(actor, "bulletin.withdraw", f"bulletin {bulletin_id}", {}, now)
        self._cached = (0.0, None)
        log.info("bulletin_withdrawn", id=bulletin_id, by=actor)
        return bulletin

    async def listing(self) -> list[Bulletin]:
        return await self._bulletins.latest()

    async def active(self) -> ActiveBulletin | None:
        """The newest active bulletin, for a call arriving now (cached for a second)."""
        at, cached = self._cached
        if time.monotonic() - at < CACHE_SECONDS:
            return cached
        try:
            found = await self._bulletins.active(self._clock.now())
        except StorageError as exc:
            log.error("bulletins_unavailable", error=str(exc))
            found = []
        active = ActiveBulletin(str(found[0].id), dict(found[0].texts)) if found else None
        self._cached = (time.monotonic(), active)
        return active


def _synthesise(root: Path, texts: Mapping[str, str]) -> list[Path]:
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
