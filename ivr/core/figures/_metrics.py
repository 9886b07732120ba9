"""Live figures as metric families for ``/metrics``: plain values, no exposition format
(the metrics edge, ``ivr.edges.metrics``, renders them with ``prometheus_client``).

Everything here is a gauge: "today" restarts at local midnight and the window slides, so none
of these only ever grows, which is what a Prometheus counter promises. A figure that cannot be
derived (no answered call in the window) is left out rather than reported as 0.

Cardinality is bounded by the caller: ``skill_families`` gets the figures of the configured
skills only (the stage and personal queues are folded into their skill before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ivr.core.figures._live import SkillFigures

Kind = Literal["gauge", "counter"]


@dataclass(slots=True)
class Family:
    """One metric: its name (a counter's without ``_total``), help text, kind, label names and
    samples (label values in the order of ``labels``, value)."""

    name: str
    help: str
    kind: Kind = "gauge"
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, value: float | None, *labels: str) -> None:
        if value is not None:
            self.samples.append((labels, float(value)))


def skill_families(
    figures: Mapping[str, SkillFigures], ignored: Mapping[str, int] | None = None
) -> list[Family]:
    """The families for every skill's figures (``LiveFigures.all_figures(now)``)."""
    waiting = Family("ivr_skill_waiting_calls", "Callers waiting in the skill's queue now.",
                     labels=("skill",))
    longest = Family("ivr_skill_longest_wait_seconds", "Wait of the caller waiting longest now.",
                     labels=("skill",))
    operators = Family("ivr_skill_operators", "Members of the skill's queue by state.",
                       labels=("skill", "state"))
    today = Family("ivr_skill_calls_today", "Calls since local midnight by outcome.",
                   labels=("skill", "outcome"))
    level = Family("ivr_skill_service_level_percent",
                   "Answered within target / (answered + abandoned).", labels=("skill", "span"))
    target = Family("ivr_skill_service_level_target_percent", "The skill's service-level target.",
                    labels=("skill",))
    abandon = Family("ivr_skill_abandon_rate_percent", "Abandoned / (answered + abandoned).",
                     labels=("skill", "span"))
    asa = Family("ivr_skill_average_speed_of_answer_seconds", "Average wait of answered calls.",
                 labels=("skill", "span"))
    aht = Family("ivr_skill_average_handle_time_seconds",
                 "Average talk plus wrap-up of completed calls.", labels=("skill", "span"))
    idle = Family("ivr_skill_idle_wait_seconds", "Seconds callers waited while an operator of "
                  "their queue was available.", labels=("skill", "span"))
    dropped = Family("ivr_figures_ignored_events", "AMI events not used for figures, by reason.",
                     labels=("reason",))
    for skill, f in sorted(figures.items()):
        waiting.add(f.waiting, skill)
        longest.add(f.longest_wait_seconds, skill)
        ops = f.operators
        for state, count in (
            ("available", ops.available), ("on_call", ops.on_call), ("ringing", ops.ringing),
            ("wrap_up", ops.wrap_up), ("paused", ops.paused), ("unavailable", ops.unavailable),
        ):
            operators.add(count, skill, state)
        for outcome, count in (
            ("offered", f.today.offered), ("answered", f.today.answered),
            ("abandoned", f.today.abandoned),
        ):
            today.add(count, skill, outcome)
        target.add(f.target.percent, skill)
        for span, counts in (("window", f.window), ("today", f.today)):
            level.add(counts.service_level_percent, skill, span)
            abandon.add(counts.abandon_rate_percent, skill, span)
            asa.add(counts.average_speed_of_answer, skill, span)
            aht.add(counts.average_handle_time, skill, span)
            idle.add(counts.idle_wait_seconds, skill, span)
    for reason, count in sorted((ignored or {}).items()):
        dropped.add(count, reason)
    return [waiting, longest, operators, today, level, target, abandon, asa, aht, idle,
            dropped]
