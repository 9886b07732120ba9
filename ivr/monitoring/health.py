"""The hotline's health (``/healthz``) and figures for scrapers (``/metrics``, Prometheus text),
gathered from the parts that know them: the AMI link, FastAGI, speech, pending writes, the
live figures and the live flow. They reveal no caller data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ivr.calls.pending_writes import PendingWrites
from ivr.calls.recordings import CallRecordings
from ivr.core.figures import Family, Kind, LiveFigures, skill_families
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.limits import open_files, open_files_limit
from ivr.edges.metrics import Metrics
from ivr.flows.library import FlowLibrary
from ivr.speech.service import SpeechService


class Health:
    def __init__(
        self, *, ami: AmiClient, agi: FastAgiServer, speech: SpeechService,
        writes: PendingWrites, figures: LiveFigures, flows: FlowLibrary, clock: Clock,
        registry: Metrics, state_dir: Path, recordings: CallRecordings | None = None,
    ) -> None:
        self._recordings = recordings
        self._ami = ami
        self._agi = agi
        self._speech = speech
        self._writes = writes
        self._figures = figures
        self._flows = flows
        self._clock = clock
        self._state_dir = state_dir
        self.registry = registry
        registry.add_source(self._skill_families)
        registry.add_source(self._own_families)
        if recordings is not None:
            # Measured off the loop by the recordings' own task; read here as plain values.
            registry.add_source(recordings.families)

    @property
    def ok(self) -> bool:
        """Serving: the AMI link is up (without it no operator state, no queue facts)."""
        return self._ami.connected

    @property
    def _recordings_full(self) -> bool:
        return self._recordings is not None and self._recordings.disk_full

    def status(self) -> dict[str, Any]:
        """The ``/healthz`` body."""
        flow = self._flows.current()
        return {
            "status": "ok" if self.ok and not self._recordings_full else "degraded",
            "ami_connected": self._ami.connected,
            "flow": flow.flow.name, "flow_version": flow.flow.version,
            "calls_in_ivr": self._agi.active_sessions,
            "speech_available": self._speech.available,
            "database_down": self._writes.down, "pending_writes": self._writes.pending,
            "agi_pending_handshakes": self._agi.pending_handshakes,
            "open_files": open_files(), "open_files_limit": open_files_limit(),
            **self._recordings_status(),
        }

    def _recordings_status(self) -> dict[str, Any]:
        """The recordings' disk: its use, and ``recordings_disk_full`` (with ``status``
        degraded) past ``[recordings] disk_full_percent``: calls are still answered, but
        their recordings may soon fail."""
        if self._recordings is None:
            return {}
        disk = self._recordings.disk
        shown: dict[str, Any] = {
            "recordings_files": disk.files, "recordings_bytes": disk.bytes,
            "recordings_disk_used_percent": disk.disk_used_percent,
            "recordings_disk_full": self._recordings.disk_full,
        }
        return shown

    def metrics(self) -> bytes:
        """The ``/metrics`` text: per-skill figures, the histograms, the application's own."""
        return self.registry.exposition()

    def _skill_families(self) -> list[Family]:
        now = self._clock.time()
        skills = self._figures.configured_skills()
        return skill_families({s: self._figures.figures(s, now) for s in skills},
                              self._figures.ignored)

    def _own_families(self) -> list[Family]:
        pool = self._speech.recognizer.usage
        families: list[Family] = []
        rows: tuple[tuple[str, Kind, float, str], ...] = (
            ("ivr_calls_in_ivr", "gauge", self._agi.active_sessions,
             "Calls in the IVR (FastAGI sessions) right now."),
            ("ivr_ami_connected", "gauge", int(self._ami.connected), "1 while the AMI link is up."),
            ("ivr_ami_reconnects", "counter", self._ami.reconnects, "AMI reconnects since start."),
            ("ivr_ami_event_cpu_seconds", "counter", self._ami.event_cpu_seconds,
             "Event-loop CPU time spent reading the AMI link: parsing, each event's handlers."),
            ("ivr_speech_pool_busy", "gauge", pool.busy, "Speech decoding units in use."),
            ("ivr_speech_pool_capacity", "gauge", pool.capacity, "Speech decoding units in all."),
            ("ivr_speech_turns_rejected", "counter", pool.rejected,
             "Speech turns sent to keys: the pool was full."),
        )
        for name, kind, value, what in rows:
            family = Family(name, what, kind)
            family.add(value)
            families.append(family)
        # The state directory's disk (the database on SQLite, spilled writes, recordings):
        # one statvfs call, microseconds.
        disk = shutil.disk_usage(self._state_dir)
        free = Family("ivr_state_disk_free_bytes", "Free space on the state directory's disk.")
        size = Family("ivr_state_disk_size_bytes", "Size of the state directory's disk.")
        free.add(disk.free)
        size.add(disk.total)
        return [*families, free, size, *self._writes.metric_families()]
