"""Operators' state history: every change of state, with its reason (a login's skills); and
each operator's last login beside it, so a resync reads one row per operator, not the history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from ivr.core.operators import LOGIN_NOTE
from ivr.core.records import OperatorStateChange
from ivr.core.routing import OperatorState
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import utc_text
from ivr.errors import RecordRefused

_t = tables.operator_states
_logins = tables.operator_logins
_STATES = tuple(state.value for state in OperatorState)


class OperatorStates:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, operator_id: str, state: str, reason: str, at: datetime) -> None:
        """``state`` is an ``OperatorState`` value."""
        if state not in _STATES:
            raise RecordRefused(
                f"unknown operator state {state!r} (one of {', '.join(_STATES)})"
            )
        values = {"operator_id": operator_id, "state": state, "reason": reason,
                  "at": utc_text(at)}

        def run(conn: Connection) -> None:
            # The same change again (a kept write replayed after a crash) is recorded once.
            same = select(_t.c.operator_id).where(
                *(_t.c[name] == value for name, value in values.items())).limit(1)
            if conn.execute(same).first() is not None:
                return
            conn.execute(_t.insert().values(**values))
            if reason.startswith(LOGIN_NOTE):
                last = self._db.insert(_logins).values(
                    operator_id=operator_id, reason=reason, at=values["at"])
                conn.execute(last.on_conflict_do_update(
                    index_elements=[_logins.c.operator_id],
                    set_={"reason": last.excluded.reason, "at": last.excluded.at},
                    where=last.excluded.at >= _logins.c.at))  # a late replay stays behind

        await self._db.write(run)

    async def since(
        self, since: datetime, operator_id: str | None = None
    ) -> list[OperatorStateChange]:
        """State changes at or after ``since`` (of one operator, if given), oldest first."""
        stamp = utc_text(since)

        def run(conn: Connection) -> list[OperatorStateChange]:
            query = (select(_t.c.operator_id, _t.c.state, _t.c.reason, _t.c.at)
                     .where(_t.c.at >= stamp).order_by(_t.c.at, _t.c.id))
            if operator_id is not None:
                query = query.where(_t.c.operator_id == operator_id)
            return [OperatorStateChange(*row) for row in conn.execute(query)]
        return await self._db.read(run)

    async def last_logins(self) -> dict[str, str]:
        """Each operator's last login: its reason (``LOGIN_NOTE`` and the skills taken)."""
        def run(conn: Connection) -> dict[str, str]:
            return {row[0]: row[1] for row in conn.execute(
                select(_logins.c.operator_id, _logins.c.reason))}
        return await self._db.read(run)
