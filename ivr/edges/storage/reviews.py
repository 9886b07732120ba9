"""Quality reviews of calls, and the search of answered calls the quality page makes.

One review a call: a save replaces the call's review whoever made it (latest wins); the web
audits every save with its marks, so the history is in the audit log. The search is bounded:
a range of arrival times (``calls_arrived``, or ``calls_operator_arrived`` /
``calls_skill_arrived`` with an operator or skill), a page at a time.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select

from ivr.core.quality import CallReview, CallSearch, ReviewedCall
from ivr.core.records import CallRecord
from ivr.edges.storage import tables
from ivr.edges.storage.calls import record_of
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import json_text

_r = tables.call_reviews
_c = tables.calls


class CallReviews:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, review: CallReview) -> None:
        """Store ``review`` as the call's review (replacing any earlier one)."""
        values = _values(review)
        insert = self._db.insert(_r)
        stmt = insert.on_conflict_do_update(
            index_elements=[_r.c.call_id],
            set_={k: insert.excluded[k] for k in values if k != "call_id"})
        await self._db.write(lambda conn: conn.execute(stmt, values))

    async def get(self, call_id: str) -> CallReview | None:
        def run(conn: Connection) -> CallReview | None:
            row = conn.execute(select(_r).where(_r.c.call_id == call_id)).first()
            return None if row is None else _review(row._mapping)
        return await self._db.read(run)

    async def search(self, terms: CallSearch, limit: int,
                     offset: int = 0) -> list[tuple[CallRecord, CallReview | None]]:
        """Answered calls matching ``terms``, newest first, with their review if any."""
        query = (select(_c, *[c.label(f"review_{c.name}") for c in _r.c])
                 .select_from(_c.outerjoin(_r, _r.c.call_id == _c.c.call_id))
                 .where(*_conditions(terms))
                 .order_by(_c.c.arrived_at.desc(), _c.c.call_id.desc())
                 .limit(max(0, limit)).offset(max(0, offset)))

        def run(conn: Connection) -> list[tuple[CallRecord, CallReview | None]]:
            found = []
            for row in conn.execute(query):
                values = dict(row._mapping)
                review = {name.removeprefix("review_"): values.pop(name)
                          for name in list(values) if name.startswith("review_")}
                found.append((record_of(values),
                              _review(review) if review["call_id"] is not None else None))
            return found
        return await self._db.read(run)

    async def count(self, terms: CallSearch) -> int:
        """How many calls ``search`` pages through."""
        query = (select(func.count()).select_from(
            _c.outerjoin(_r, _r.c.call_id == _c.c.call_id)).where(*_conditions(terms)))
        return await self._db.read(lambda conn: int(conn.execute(query).scalar_one()))

    async def of_calls_between(self, start: str, end: str) -> list[ReviewedCall]:
        """The reviews of the calls that arrived in [start, end) (UTC text), for the
        figures per operator (``call_reviews_arrived``: the reviews alone are read)."""
        query = (select(_r.c.operator, _r.c.percent, _r.c.passed, _r.c.missed)
                 .where(_r.c.arrived_at >= start, _r.c.arrived_at < end))

        def run(conn: Connection) -> list[ReviewedCall]:
            return [ReviewedCall(row.operator or "", float(row.percent), bool(row.passed),
                                 tuple(json.loads(row.missed))) for row in conn.execute(query)]
        return await self._db.read(run)


    async def answered_per_operator(self, start: str, end: str) -> dict[str, int]:
        """How many calls each operator answered of those that arrived in [start, end)."""
        query = (select(_c.c.operator, func.count().label("n"))
                 .where(_c.c.arrived_at >= start, _c.c.arrived_at < end,
                        _c.c.answered_at.is_not(None), _c.c.operator.is_not(None))
                 .group_by(_c.c.operator))

        def run(conn: Connection) -> dict[str, int]:
            return {row.operator: int(row.n) for row in conn.execute(query) if row.operator}
        return await self._db.read(run)


def _conditions(t: CallSearch) -> list[Any]:
    where: list[Any] = [_c.c.arrived_at >= t.start, _c.c.arrived_at < t.end,
                        _c.c.answered_at.is_not(None)]
    if t.operator:
        where.append(_c.c.operator == t.operator)
    if t.skill:
        where.append(_c.c.skill == t.skill)
    if t.survey_min is not None:
        where.append(_c.c.survey_score >= t.survey_min)
    if t.survey_max is not None:
        where.append(_c.c.survey_score <= t.survey_max)
    if t.talk_min is not None:
        where.append(_c.c.talk_seconds >= t.talk_min)
    if t.talk_max is not None:
        where.append(_c.c.talk_seconds <= t.talk_max)
    if t.reviewed is True:
        where.append(_r.c.call_id.is_not(None))
    elif t.reviewed is False:
        where.append(_r.c.call_id.is_(None))
    return where


def _values(r: CallReview) -> dict[str, Any]:
    return {"call_id": r.call_id, "arrived_at": r.arrived_at, "reviewer": r.reviewer,
            "operator": r.operator,
            "marks": json_text(dict(r.marks)), "points": r.points, "max_points": r.max_points,
            "percent": r.percent, "passed": r.passed, "missed": json_text(list(r.missed)),
            "comment": r.comment, "reviewed_at": r.reviewed_at}


def _review(row: Any) -> CallReview:
    return CallReview(
        row["call_id"], row["arrived_at"], row["reviewer"], row["operator"],
        json.loads(row["marks"]),
        int(row["points"]), int(row["max_points"]), float(row["percent"]),
        bool(row["passed"]), tuple(json.loads(row["missed"])), row["comment"],
        row["reviewed_at"])
