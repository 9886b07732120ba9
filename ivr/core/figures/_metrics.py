"""Live figures as Prometheus text exposition (format 0.0.4), for ``/metrics``.

Everything is a gauge: "today" restarts at local midnight and the window slides, so none of
these only ever grows, which is what a Prometheus counter promises. A figure that cannot be
derived (no answered call in the window) is left out rather than reported as 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ivr.core.figures._live import SkillFigures

_GAUGES = (
    ("ivr_skill_waiting_calls", "Callers waiting in the skill's queue now."),
    ("ivr_skill_longest_wait_seconds", "Wait of the caller waiting longest now."),
    ("ivr_skill_operators", "Members of the skill's queue by state."),
    ("ivr_skill_calls_today", "Calls since local midnight by outcome."),
    ("ivr_skill_service_level_percent", "Answered within target / (answered + abandoned)."),
    ("ivr_skill_service_level_target_percent", "The skill's service-level target."),
    ("ivr_skill_abandon_rate_percent", "Abandoned / (answered + abandoned)."),
    ("ivr_skill_average_speed_of_answer_seconds", "Average wait of answered calls."),
    ("ivr_skill_average_handle_time_seconds", "Average talk plus wrap-up of completed calls."),
    ("ivr_skill_idle_wait_seconds", "Seconds callers waited while an operator of their "
     "queue was available."),
    ("ivr_figures_ignored_events", "AMI events not used for figures, by reason."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: Mapping[str, str], value: float | None) -> Iterable[str]:
    if value is None:
        return ()
    text = ",".join(f'{key}="{_label(v)}"' for key, v in labels.items())
    return (f"{name}{{{text}}} {value:g}",)


def metrics_text(
    figures: Mapping[str, SkillFigures], ignored: Mapping[str, int] | None = None
) -> str:
    """The exposition text for every skill's figures (``LiveFigures.all_figures(now)``)."""
    samples: dict[str, list[str]] = {name: [] for name, _ in _GAUGES}
    for skill, f in sorted(figures.items()):
        s = {"skill": skill}
        samples["ivr_skill_waiting_calls"] += _sample("ivr_skill_waiting_calls", s, f.waiting)
        samples["ivr_skill_longest_wait_seconds"] += _sample(
            "ivr_skill_longest_wait_seconds", s, f.longest_wait_seconds
        )
        ops = f.operators
        for state, count in (
            ("available", ops.available), ("on_call", ops.on_call), ("ringing", ops.ringing),
            ("wrap_up", ops.wrap_up), ("paused", ops.paused), ("unavailable", ops.unavailable),
        ):
            samples["ivr_skill_operators"] += _sample(
                "ivr_skill_operators", {**s, "state": state}, count
            )
        for outcome, count in (
            ("offered", f.today.offered), ("answered", f.today.answered),
            ("abandoned", f.today.abandoned),
        ):
            samples["ivr_skill_calls_today"] += _sample(
                "ivr_skill_calls_today", {**s, "outcome": outcome}, count
            )
        samples["ivr_skill_service_level_target_percent"] += _sample(
            "ivr_skill_service_level_target_percent", s, f.target.percent
        )
        for span, counts in (("window", f.window), ("today", f.today)):
            w = {**s, "span": span}
            for name, value in (
                ("ivr_skill_service_level_percent", counts.service_level_percent),
                ("ivr_skill_abandon_rate_percent", counts.abandon_rate_percent),
                ("ivr_skill_average_speed_of_answer_seconds", counts.average_speed_of_answer),
                ("ivr_skill_average_handle_time_seconds", counts.average_handle_time),
                ("ivr_skill_idle_wait_seconds", counts.idle_wait_seconds),
            ):
                samples[name] += _sample(name, w, value)
    for reason, count in sorted((ignored or {}).items()):
        samples["ivr_figures_ignored_events"] += _sample(
            "ivr_figures_ignored_events", {"reason": reason}, count
        )
    lines = []
    for name, help_text in _GAUGES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples[name]]
    return "\n".join(lines) + "\n"
