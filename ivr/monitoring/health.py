"""The hotline's health (``/healthz``) and figures for scrapers (``/metrics``, Prometheus text),
gathered from the parts that know them: the AMI link, FastAGI, speech, pending writes, the
live figures and the live flow. They reveal no caller data."""

from __future__ import annotations

from typing import Any

from ivr.calls.pending_writes import PendingWrites
from ivr.core.figures import LiveFigures, metrics_text
from ivr.edges.ami import AmiClient
from ivr.edges.clock import Clock
from ivr.edges.fastagi import FastAgiServer
from ivr.edges.limits import open_files, open_files_limit
from ivr.flows.library import FlowLibrary
from ivr.speech.service import SpeechService


class Health:
    def __init__(
        self, *, ami: AmiClient, agi: FastAgiServer, speech: SpeechService,
        writes: PendingWrites, figures: LiveFigures, flows: FlowLibrary, clock: Clock,
    ) -> None:
        self._ami = ami
        self._agi = agi
        self._speech = speech
        self._writes = writes
        self._figures = figures
        self._flows = flows
        self._clock = clock

    @property
    def ok(self) -> bool:
        """Serving: the AMI link is up (without it no operator state, no queue facts)."""
        return self._ami.connected

    def status(self) -> dict[str, Any]:
        """The ``/healthz`` body."""
        flow = self._flows.current()
        return {
            "status": "ok" if self.ok else "degraded",
            "ami_connected": self._ami.connected,
            "flow": flow.flow.name, "flow_version": flow.flow.version,
            "calls_in_ivr": self._agi.active_sessions,
            "speech_available": self._speech.available,
            "database_down": self._writes.down, "pending_writes": self._writes.pending,
            "agi_pending_handshakes": self._agi.pending_handshakes,
            "open_files": open_files(), "open_files_limit": open_files_limit(),
        }

    def metrics(self) -> str:
        """The ``/metrics`` text: per-skill figures, then the application's own."""
        text = metrics_text(self._figures.all_figures(self._clock.time()), self._figures.ignored)
        pool = self._speech.recognizer.usage
        extra = [
            "# HELP ivr_calls_in_ivr Calls in the IVR (FastAGI sessions) right now.",
            "# TYPE ivr_calls_in_ivr gauge",
            f"ivr_calls_in_ivr {self._agi.active_sessions}",
            "# HELP ivr_ami_connected 1 while the AMI link is up.",
            "# TYPE ivr_ami_connected gauge",
            f"ivr_ami_connected {int(self._ami.connected)}",
            "# HELP ivr_ami_reconnects_total AMI reconnects since start.",
            "# TYPE ivr_ami_reconnects_total counter",
            f"ivr_ami_reconnects_total {self._ami.reconnects}",
            "# HELP ivr_speech_pool_busy Speech decoding units in use.",
            "# TYPE ivr_speech_pool_busy gauge",
            f"ivr_speech_pool_busy {pool.busy}",
            "# HELP ivr_speech_pool_capacity Speech decoding units in all.",
            "# TYPE ivr_speech_pool_capacity gauge",
            f"ivr_speech_pool_capacity {pool.capacity}",
            "# HELP ivr_speech_turns_rejected_total Speech turns sent to keys: the pool was full.",
            "# TYPE ivr_speech_turns_rejected_total counter",
            f"ivr_speech_turns_rejected_total {pool.rejected}",
            *self._writes.metrics_lines(),
        ]
        return text.rstrip("\n") + "\n" + "\n".join(extra) + "\n"
