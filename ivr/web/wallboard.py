"""The supervisors' wallboard: ``/wallboard`` (page) and ``/wallboard/data`` (JSON, polled
every 2 s by ``static/wallboard.js``).

Per skill: callers waiting and the longest wait, the sliding window's service level against
the skill's target, abandon rate and average speed of answer, operators by state, an Erlang C
staffing hint (operators needed now for the target vs. staffed), and the last hours per
interval (offered, answered, abandoned, service level) for the charts the page draws as SVG.
Below, the cases against their deadlines (overdue, late to respond, nearly due, escalated) as
the deadline watch last counted them (``ivr.casework.deadlines``). Everything comes from
memory (the live figures, the watch's alerts); no database query per poll.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ivr.core.deadlines import CaseAlerts
from ivr.core.figures import Counts, IntervalFigures, LiveFigures, SkillFigures, staffing_hint_for
from ivr.core.records import Role
from ivr.core.routing import is_stage_queue
from ivr.core.settings import Settings
from ivr.web.auth import current_user, require
from ivr.web.errors import json_error
from ivr.web.i18n import config_language, name_in_language
from ivr.web.keys import SERVICES
from ivr.web.surges import surge_json

ROLE = Role.SUPERVISOR
DEFAULT_HOURS = 4.0
MAX_HOURS = 24.0
# Below the target by at most this many points: amber rather than red.
NEAR_TARGET_POINTS = 10.0


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def level_colour(level: float | None, target_percent: float) -> str:
    """green (target met), amber (within 10 points), red, or grey (nothing to measure)."""
    if level is None:
        return "grey"
    if level >= target_percent:
        return "green"
    if level >= target_percent - NEAR_TARGET_POINTS:
        return "amber"
    return "red"


def _counts(c: Counts) -> dict[str, Any]:
    return {
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "service_level_percent": _round(c.service_level_percent),
        "abandon_rate_percent": _round(c.abandon_rate_percent),
        "asa_seconds": _round(c.average_speed_of_answer),
        "aht_seconds": _round(c.average_handle_time),
        "idle_wait_seconds": _round(c.idle_wait_seconds, 0),
    }


def _bar(bar: IntervalFigures) -> dict[str, Any]:
    return {"start": bar.start, "seconds": bar.seconds, **_counts(bar.counts)}


def skill_board(
    settings: Settings, live: LiveFigures, figures: SkillFigures, hours: float,
    in_stages: tuple[int, float] = (0, 0.0),
) -> dict[str, Any]:
    """One skill's row of the wallboard, JSON-ready; ``in_stages``: its callers waiting in
    the later stages of their wait (how many, the longest wait there), folded in."""
    skill = settings.skills.get(figures.skill)
    name = figures.skill
    if skill is not None:  # in the language of the user asking (ivr.web.i18n)
        name = name_in_language(skill.names, figures.skill)
    ops = figures.operators
    hint = staffing_hint_for(figures)
    level = figures.service_level_percent
    return {
        "skill": figures.skill,
        "name": name,
        "department": skill.department if skill is not None else "",
        "target": {"percent": figures.target.percent, "seconds": figures.target.seconds},
        "waiting": figures.waiting + in_stages[0],
        "waiting_in_stages": in_stages[0],
        "longest_wait_seconds": _round(max(figures.longest_wait_seconds if figures.waiting
                                           else 0.0, in_stages[1]), 0),
        "window_seconds": figures.window_seconds,
        "window": _counts(figures.window),
        "today": _counts(figures.today),
        "service_level_percent": _round(level),
        "service_level_colour": level_colour(level, figures.target.percent),
        "operators": {
            "available": ops.available,
            "busy": ops.busy,
            "on_call": ops.on_call,
            "ringing": ops.ringing,
            "wrap_up": ops.wrap_up,
            "paused": ops.paused,
            "unavailable": ops.unavailable,
            "on_duty": ops.on_duty,
            "staffed": ops.staffed,
        },
        "staffing": {
            "needed": hint.needed,
            "staffed": hint.staffed,
            "on_duty": hint.on_duty,
            "shortfall": hint.shortfall,
            "calls_per_hour": _round(hint.calls_per_hour),
            "aht_seconds": _round(hint.aht_seconds, 0),
            "aht_source": hint.aht_source,
            "expected_service_level_percent": _round(hint.expected_service_level_percent),
        },
        "history": [
            _bar(bar) for bar in live.history(figures.skill, figures.at, hours=hours)
        ],
    }


def board(
    settings: Settings, live: LiveFigures, now: float, hours: float = DEFAULT_HOURS
) -> dict[str, Any]:
    """The whole wallboard at ``now``: configured skills first (in settings order), then
    queues only seen in AMI events. The queues of the later stages of a wait (``lang-*``,
    ``op-*``) are not rows: their callers and idle-while-waiting count in the skill each
    caller was routed for (``LiveFigures.note_priorities``)."""
    live.settle(now)
    names = list(settings.skills)
    names += [skill for skill in live.skills()
              if skill not in settings.skills and not is_stage_queue(skill)]
    stages = live.stage_waiting(is_stage_queue, now)
    figures = [live.figures(skill, now) for skill in names]
    rows = [skill_board(settings, live, f, hours, stages.get(f.skill, (0, 0.0)))
            for f in figures]
    return {
        "at": now,
        "interval_seconds": live.interval_seconds,
        "hours": hours,
        "skills": rows,
        # Callers in a stage queue whose skill this node was not told (routed by another
        # node) are in the total only.
        "total": total(figures, rows, sum(n for skill, (n, _) in stages.items()
                                          if skill not in names)),
    }


def total(
    figures: list[SkillFigures], rows: list[dict[str, Any]], unplaced: int = 0
) -> dict[str, Any]:
    """All skills together: callers waiting (stages folded in), the longest wait, window and
    today's calls. Operators are not summed (one operator serves several skills)."""
    window, today = Counts(), Counts()
    for f in figures:
        window += f.window
        today += f.today
    return {
        "waiting": sum(row["waiting"] for row in rows) + unplaced,
        "longest_wait_seconds": _round(
            max((row["longest_wait_seconds"] or 0.0 for row in rows if row["waiting"]),
                default=0.0), 0),
        "window": _counts(window),
        "today": _counts(today),
    }


def alerts_json(alerts: CaseAlerts, settings: Settings) -> dict[str, Any]:
    """The cases against their deadlines, as of the deadline watch's last check."""
    def name(department: str) -> str:
        known = settings.departments.get(department)
        return known.name(config_language()) if known else department
    return {
        "at": alerts.at, "overdue": alerts.overdue, "respond_overdue": alerts.respond_overdue,
        "nearly_due": alerts.nearly_due, "escalated": alerts.escalated,
        "cases": [{**dataclasses.asdict(c), "department_name": name(c.department)}
                  for c in alerts.cases],
    }


@aiohttp_jinja2.template("wallboard.html")
async def wallboard_page(request: web.Request) -> dict[str, Any]:
    await require(request, ROLE)
    return {"refresh_ms": 2000}


async def wallboard_data(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is None:
        raise json_error(web.HTTPUnauthorized, "not_logged_in", "Log in first.")
    if Role.rank_of(user.role) < ROLE.rank:
        raise json_error(web.HTTPForbidden, "forbidden", "This needs the supervisor role.")
    try:
        hours = float(request.query.get("hours", DEFAULT_HOURS))
    except ValueError:
        raise json_error(web.HTTPBadRequest, "bad_hours", "hours must be a number") from None
    if not 0 < hours <= MAX_HOURS:
        raise json_error(web.HTTPBadRequest, "bad_hours", f"hours must be in (0, {MAX_HOURS:g}]")
    services = request.app[SERVICES]
    body = board(services.settings, services.figures, services.clock.time(), hours)
    body["cases"] = alerts_json(services.case_alerts.current(), services.settings)
    body["surges"] = [surge_json(services.settings, s) for s in services.surges.current()[1]]
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/wallboard/data", wallboard_data)
