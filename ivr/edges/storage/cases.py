"""Cases, their history and their daily numbers.

Case numbers come from ``case_sequence``: one ``INSERT ... ON CONFLICT DO UPDATE ...
RETURNING`` per case, so two nodes creating cases at the same moment get distinct numbers.
What an edit may change is the core's rule (``ivr.core.cases.change``); the row is locked while
it is applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from ivr.core.cases import Case, CaseEvent, CaseStatus, case_number, change
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import local_text
from ivr.errors import RecordNotFound

_t = tables.cases
_events = tables.case_events
_sequence = tables.case_sequence
_COLUMNS = (
    _t.c.number, _t.c.caller, _t.c.category, _t.c.status, _t.c.created_at, _t.c.updated_at,
    _t.c.call_id, _t.c.department, _t.c.description, _t.c.satisfaction,
)


class Cases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, *, caller: str, category: str, department: str = "", description: str = "",
        call_id: str | None = None, now: datetime, actor: str = "ivr",
    ) -> Case:
        """A new case with the next number of the day; the number is what the citizen keys in."""
        stamp = local_text(now)
        case = Case("", caller, category, CaseStatus.NEW.value, stamp, stamp, call_id, department,
                    description)
        return await self._db.write(self._create, case, now, actor)

    def _create(self, conn: Connection, case: Case, now: datetime, actor: str) -> Case:
        bump = self._db.insert(_sequence).values(day=now.date().isoformat(), last=1)
        bump = bump.on_conflict_do_update(
            index_elements=[_sequence.c.day], set_={"last": _sequence.c["last"] + 1},
        ).returning(_sequence.c["last"])
        sequence = int(conn.execute(bump).scalar_one())
        number = case_number(now.timetuple().tm_yday, now.year, sequence)
        conn.execute(_t.insert().values(
            number=number, call_id=case.call_id, caller=case.caller, category=case.category,
            department=case.department, description=case.description, status=case.status,
            created_at=case.created_at, updated_at=case.updated_at,
        ))
        conn.execute(_events.insert().values(
            number=number, at=case.created_at, actor=actor, status=case.status, note="",
        ))
        return Case(number, case.caller, case.category, case.status, case.created_at,
                    case.updated_at, case.call_id, case.department, case.description)

    async def set_status(
        self, number: str, status: str, now: datetime, *, actor: str = "system"
    ) -> None:
        """Set a status without the lifecycle's checks (the admin CLI); history is kept."""
        wanted = CaseStatus.parse(status).value
        stamp = local_text(now)

        def run(conn: Connection) -> None:
            done = conn.execute(update(_t).where(_t.c.number == number)
                                .values(status=wanted, updated_at=stamp))
            if done.rowcount:
                conn.execute(_events.insert().values(
                    number=number, at=stamp, actor=actor, status=wanted, note="",
                ))
        await self._db.write(run)

    async def update(
        self, number: str, *, actor: str, now: datetime, category: str | None = None,
        department: str | None = None, description: str | None = None,
        status: str | None = None, note: str = "",
    ) -> Case:
        """Change a case and write who did what to its history (the lifecycle's rules:
        ``ivr.core.cases``)."""
        if status is not None:
            CaseStatus.parse(status)
        fields = {"category": category, "department": department, "description": description}
        return await self._db.write(
            self._update, number, actor, local_text(now),
            {k: v for k, v in fields.items() if v is not None}, status, note,
        )

    @staticmethod
    def _update(  # noqa: PLR0917 - runs on the worker thread, called positionally
        conn: Connection, number: str, actor: str, stamp: str,
        fields: dict[str, str], status: str | None, note: str,
    ) -> Case:
        row = conn.execute(select(*_COLUMNS).where(_t.c.number == number).with_for_update()
                           ).first()
        if row is None:
            raise RecordNotFound(f"no case {number}")
        case = Case(*row)
        edit = change(case, fields, status, note)
        if edit is None:
            return case
        values = {**edit.values, "updated_at": stamp}
        conn.execute(update(_t).where(_t.c.number == number).values(**values))
        conn.execute(_events.insert().values(
            number=number, at=stamp, actor=actor, status=values.get("status", case.status),
            note=edit.note,
        ))
        return Case(*conn.execute(select(*_COLUMNS).where(_t.c.number == number)).one())

    async def history(self, number: str) -> list[CaseEvent]:
        """Every change to the case, oldest first."""
        def run(conn: Connection) -> list[CaseEvent]:
            rows = conn.execute(
                select(_events.c.number, _events.c.at, _events.c.actor, _events.c.status,
                       _events.c.note)
                .where(_events.c.number == number).order_by(_events.c.id)
            )
            return [CaseEvent(*row) for row in rows]
        return await self._db.read(run)

    async def get(self, number: str) -> Case | None:
        rows = await self._db.read(self._where, _t.c.number == number, [], None, 0)
        return rows[0] if rows else None

    async def of_caller(self, caller: str) -> list[Case]:
        """The caller's cases, oldest first."""
        return await self._db.read(
            self._where, _t.c.caller == caller, [_t.c.created_at, _t.c.number], None, 0,
        )

    async def page(
        self, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Case]:
        """Cases (of one status, if given), newest first, a page at a time."""
        where = _t.c.status == CaseStatus.parse(status).value if status is not None else None
        return await self._db.read(
            self._where, where, [_t.c.created_at.desc(), _t.c.number.desc()],
            max(0, limit), max(0, offset),
        )

    @staticmethod
    def _where(
        conn: Connection, where: Any, order: list[Any], limit: int | None, offset: int
    ) -> list[Case]:
        query = select(*_COLUMNS)
        if where is not None:
            query = query.where(where)
        query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        return [Case(*row) for row in conn.execute(query)]

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many cases each (category, status) pair holds."""
        def run(conn: Connection) -> dict[tuple[str, str], int]:
            rows = conn.execute(select(_t.c.category, _t.c.status, func.count())
                                .group_by(_t.c.category, _t.c.status))
            return {(category, status): int(n) for category, status, n in rows}
        return await self._db.read(run)
