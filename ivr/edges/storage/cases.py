"""Cases, their history and their daily numbers.

Case numbers come from ``case_sequence``: one ``INSERT ... ON CONFLICT DO UPDATE ...
RETURNING`` per case, so two nodes creating cases at the same moment get distinct numbers.
What an edit may change is the core's rule (``ivr.core.cases.change``); the row is locked while
it is applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy import case as sql_case

from ivr.core.cases import (
    Actor,
    Case,
    CaseAction,
    CaseChange,
    CaseEvent,
    CaseStatus,
    Owner,
    Satisfaction,
    VisitStatus,
    act,
    case_number,
    change,
    escalation_note,
    follow_main,
    merge,
    reminder_note,
    visit_answered,
    visit_failed,
)
from ivr.core.deadlines import CaseAlerts, DeadlinePolicy, FlaggedCase
from ivr.core.rates import DepartmentCounts
from ivr.core.suggest import Suggestion, SuggestionTally
from ivr.core.words import stored, unstored
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import local_text
from ivr.errors import RecordNotFound

_t = tables.cases
_events = tables.case_events
_sequence = tables.case_sequence
_COLUMNS = (
    _t.c.number, _t.c.caller, _t.c.category, _t.c.status, _t.c.created_at, _t.c.updated_at,
    _t.c.call_id, _t.c.department, _t.c.description, _t.c.satisfaction, _t.c.urgency,
    _t.c.dispatched_at, _t.c.responded_at, _t.c.resolved_at, _t.c.question, _t.c.reply,
    _t.c.returned_from, _t.c.return_reason, _t.c.respond_by, _t.c.resolve_by, _t.c.remind_at,
    _t.c.reminded_at, _t.c.escalated_at, _t.c.visit_status, _t.c.visit_attempts,
    _t.c.visit_next_at, _t.c.visit_resolved, _t.c.visit_satisfaction, _t.c.visit_at,
    _t.c.place, _t.c.suggested_department, _t.c.suggestion_reason, _t.c.suggestion_kept,
    _t.c.merged_into,
)
_WORKED = (CaseStatus.DISPATCHED.value, CaseStatus.IN_PROGRESS.value)
_MERGEABLE = (CaseStatus.NEW.value, *_WORKED, CaseStatus.RETURNED.value)
_BATCH = 500  # cases reminded or escalated per check (the next check takes the rest)
_EVENT_COLUMNS = (
    _events.c.number, _events.c.at, _events.c.actor, _events.c.status, _events.c.note,
    _events.c.action,
)


class Cases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, *, caller: str, category: str, department: str = "", description: str = "",
        call_id: str | None = None, now: datetime, actor: str = "ivr", urgency: str = "normal",
        suggestion: Suggestion | None = None, place: str = "",
    ) -> Case:
        """A new case with the next number of the day; the number is what the citizen keys in.
        ``suggestion``: the department proposed for it (``ivr.core.suggest``), kept with it;
        ``place``: the street or town the caller named."""
        stamp = local_text(now)
        case = Case("", caller, category, CaseStatus.NEW.value, stamp, stamp, call_id, department,
                    description, urgency=urgency,
                    place=suggestion.place if suggestion else place,
                    suggested_department=suggestion.department if suggestion else "",
                    suggestion_reason=suggestion.reason_text() if suggestion else "")
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
            created_at=case.created_at, updated_at=case.updated_at, urgency=case.urgency,
            place=case.place, suggested_department=case.suggested_department,
            suggestion_reason=case.suggestion_reason,
        ))
        conn.execute(_events.insert().values(
            number=number, at=case.created_at, actor=actor, status=case.status, note="",
            action="create",
        ))
        return dataclasses.replace(case, number=number)

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
                    action="set_status",
                ))
        await self._db.write(run)

    async def update(
        self, number: str, *, actor: str, now: datetime, category: str | None = None,
        department: str | None = None, description: str | None = None,
        status: str | None = None, note: str = "", deadlines: DeadlinePolicy | None = None,
    ) -> Case:
        """Change a case and write who did what to its history (the lifecycle's rules:
        ``ivr.core.cases``)."""
        if status is not None:
            CaseStatus.parse(status)
        fields = {"category": category, "department": department, "description": description}
        return await self._db.write(
            self._update, number, actor, local_text(now),
            {k: v for k, v in fields.items() if v is not None}, status, note, deadlines,
        )

    @staticmethod
    def _update(  # noqa: PLR0917 - runs on the worker thread, called positionally
        conn: Connection, number: str, actor: str, stamp: str,
        fields: dict[str, str], status: str | None, note: str,
        deadlines: DeadlinePolicy | None,
    ) -> Case:
        return _apply(conn, number, actor, stamp,
                      lambda case: change(case, fields, status, note, stamp,
                                          deadlines=deadlines))

    async def act(
        self, number: str, action: CaseAction, actor: Actor, now: datetime, *,
        text: str = "", department: str = "", departments: Collection[str] = (),
        deadlines: DeadlinePolicy | None = None,
    ) -> Case:
        """Take a step of the loop (``ivr.core.cases.act``: who may do what) on the locked
        case and write it to the case's history with who and when."""
        stamp = local_text(now)

        def run(conn: Connection) -> Case:
            main = _apply(conn, number, actor.username, stamp, lambda case: act(
                case, action, actor, at=stamp, text=text, department=department,
                departments=departments, deadlines=deadlines))
            if action in (CaseAction.RESOLVE, CaseAction.CLOSE):
                _follow(conn, main, stamp)
            return main
        return await self._db.write(run)

    async def merge(self, number: str, into: str, actor: Actor, now: datetime) -> Case:
        """Merge case ``number`` into case ``into`` (``ivr.core.cases.merge``): both locked,
        both histories say who merged what and when; the duplicate as it is now."""
        stamp = local_text(now)

        def run(conn: Connection) -> Case:
            rows = {row.number: Case(*row) for row in conn.execute(
                select(*_COLUMNS).where(_t.c.number.in_(sorted({number, into})))
                .order_by(_t.c.number).with_for_update())}
            if number not in rows or into not in rows:
                raise RecordNotFound(f"no case {into if number in rows else number}")
            has_duplicates = conn.execute(
                select(func.count()).where(_t.c.merged_into == number)).scalar_one() > 0
            duplicate, main = merge(rows[number], rows[into], actor, at=stamp,
                                    has_duplicates=bool(has_duplicates))
            _apply(conn, into, actor.username, stamp, lambda _: main)
            return _apply(conn, number, actor.username, stamp, lambda _: duplicate)
        return await self._db.write(run)

    async def of_call(self, call_id: str) -> list[Case]:
        """The cases filed from call ``call_id``."""
        return await self._db.read(self._where, _t.c.call_id == call_id, [_t.c.number], 20, 0)

    async def duplicates_of(self, number: str) -> list[Case]:
        """The cases merged into case ``number``, oldest first."""
        return await self._db.read(
            self._where, _t.c.merged_into == number, [_t.c.created_at, _t.c.number], None, 0)

    async def near(self, case: Case, window: timedelta, limit: int = 200) -> list[Case]:
        """Open cases of ``case``'s category and place filed within ``window`` of it (the
        candidates ``ivr.core.duplicates`` weighs), newest first."""
        filed = datetime.fromisoformat(case.created_at)
        c = _t.c
        where = ((c.category == case.category) & (c.place == case.place)
                 & (c.created_at >= local_text(filed - window))
                 & (c.created_at <= local_text(filed + window))
                 & (c.number != case.number) & (c.merged_into == "")
                 & c.status.in_(_MERGEABLE))
        return await self._db.read(
            self._where, where, [c.created_at.desc(), c.number.desc()], limit, 0)

    async def history(self, number: str) -> list[CaseEvent]:
        """Every change to the case, oldest first."""
        def run(conn: Connection) -> list[CaseEvent]:
            rows = conn.execute(
                select(*_EVENT_COLUMNS)
                .where(_events.c.number == number).order_by(_events.c.id)
            )
            return [CaseEvent(number, at, actor, status, unstored(note), action)
                    for number, at, actor, status, note, action in rows]
        return await self._db.read(run)

    async def get(self, number: str) -> Case | None:
        rows = await self._db.read(self._where, _t.c.number == number, [], None, 0)
        return rows[0] if rows else None

    async def of_caller(self, caller: str) -> list[Case]:
        """The caller's cases, oldest first."""
        return await self._db.read(cases_of_caller, caller)

    async def page(
        self, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Case]:
        """Cases (of one status, if given), newest first, a page at a time."""
        return await self.search(status=status or "", limit=limit, offset=offset)

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

    async def search(
        self, *, number: str = "", caller: str = "", category: str = "", department: str = "",
        status: str = "", overdue_at: datetime | None = None, limit: int = 100,
        offset: int = 0, owner: Owner | None = None,
    ) -> list[Case]:
        """Cases matching every criterion given (a number or caller by its start), newest
        first, a page at a time; ``overdue_at``: only cases being worked that are past a
        deadline they have not met at that moment; ``owner``: only an operator's own."""
        condition = self._criteria(number, caller, category, department, status, overdue_at,
                                   owner)
        return await self._db.read(
            self._where, condition, [_t.c.created_at.desc(), _t.c.number.desc()],
            max(0, limit), max(0, offset),
        )

    async def count(
        self, *, number: str = "", caller: str = "", category: str = "", department: str = "",
        status: str = "", overdue_at: datetime | None = None, owner: Owner | None = None,
    ) -> int:
        """How many cases ``search`` with the same criteria pages through."""
        condition = self._criteria(number, caller, category, department, status, overdue_at,
                                   owner)
        query = select(func.count()).select_from(_t)
        if condition is not None:
            query = query.where(condition)
        return await self._db.read(lambda conn: int(conn.execute(query).scalar_one()))

    @staticmethod
    def _criteria(  # noqa: PLR0917 - the search's criteria, in its order
        number: str, caller: str, category: str, department: str, status: str,
        overdue_at: datetime | None, owner: Owner | None,
    ) -> Any:
        c = _t.c
        where: list[Any] = [] if owner is None else [_owned(owner)]
        if number:
            where.append(c.number.startswith(number, autoescape=True))
        if caller:
            where.append(c.caller.startswith(caller, autoescape=True))
        if category:
            where.append(c.category == category)
        if department:
            where.append(c.department == department)
        if status:
            where.append(c.status == CaseStatus.parse(status).value)
        if overdue_at is not None:
            stamp = local_text(overdue_at)
            where.append(c.status.in_(_WORKED) & or_(
                c.resolve_by <= stamp, c.responded_at.is_(None) & (c.respond_by <= stamp)))
        return and_(*where) if where else None

    async def owned(self, numbers: Collection[str], owner: Owner) -> set[str]:
        """Which of ``numbers`` are ``owner``'s cases (``ivr.core.cases.Owner``)."""
        if not numbers:
            return set()

        def run(conn: Connection) -> set[str]:
            rows = conn.execute(select(_t.c.number).where(
                _t.c.number.in_(list(numbers)) & _owned(owner)))
            return {row.number for row in rows}
        return await self._db.read(run)

    async def of_department(self, department: str, limit: int = 200) -> list[Case]:
        """A department's work queue: its cases not yet resolved, oldest dispatch first."""
        open_ = [CaseStatus.DISPATCHED.value, CaseStatus.IN_PROGRESS.value]
        where = (_t.c.department == department) & _t.c.status.in_(open_)
        return await self._db.read(
            self._where, where, [_t.c.dispatched_at, _t.c.number], max(0, limit), 0,
        )

    async def of_department_done(self, department: str, limit: int = 50) -> list[Case]:
        """A department's cases resolved or closed, latest first."""
        done = [CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value]
        where = (_t.c.department == department) & _t.c.status.in_(done)
        return await self._db.read(
            self._where, where, [_t.c.updated_at.desc(), _t.c.number.desc()], max(0, limit), 0,
        )

    async def for_centre(self, limit: int = 200) -> list[Case]:
        """What waits for the centre: new and returned cases, and questions from departments,
        oldest first."""
        waiting = [CaseStatus.NEW.value, CaseStatus.RETURNED.value]
        where = or_(_t.c.status.in_(waiting), _t.c.question != "")
        return await self._db.read(
            self._where, where, [_t.c.updated_at, _t.c.number], max(0, limit), 0,
        )

    async def remind(self, now: datetime) -> list[str]:
        """Write one reminder to the history of each case being worked whose reminder moment
        has come (nearly due, not yet overdue); the numbers reminded."""
        stamp = local_text(now)
        worked = _t.c.status.in_(_WORKED)

        def run(conn: Connection) -> list[str]:
            rows = conn.execute(
                select(_t.c.number, _t.c.status, _t.c.resolve_by)
                .where(worked & (_t.c.remind_at <= stamp) & _t.c.reminded_at.is_(None)
                       & (_t.c.resolve_by > stamp))
                .order_by(_t.c.remind_at).limit(_BATCH)
            ).all()
            return _mark(conn, {number: (status, reminder_note(due))
                                for number, status, due in rows},
                         column="reminded_at", stamp=stamp, action="remind")
        return await self._db.write(run)

    async def escalate(self, now: datetime, before: datetime) -> list[str]:
        """Escalate to the supervisors (once) each case being worked that was due to respond
        or to resolve at ``before`` or earlier; the numbers escalated."""
        stamp, limit = local_text(now), local_text(before)
        late = or_(_t.c.resolve_by <= limit,
                   _t.c.responded_at.is_(None) & (_t.c.respond_by <= limit))

        def run(conn: Connection) -> list[str]:
            rows = conn.execute(
                select(_t.c.number, _t.c.status, _t.c.resolve_by, _t.c.respond_by,
                       _t.c.responded_at)
                .where(_t.c.status.in_(_WORKED) & _t.c.escalated_at.is_(None) & late)
                .order_by(_t.c.resolve_by).limit(_BATCH)
            ).all()
            notes: dict[str, tuple[str, str]] = {}
            for number, status, resolve_by, respond_by, responded_at in rows:
                late_to_respond = responded_at is None and respond_by is not None \
                    and respond_by <= limit
                notes[number] = (status, escalation_note(
                    respond_by=respond_by if late_to_respond else None, resolve_by=resolve_by))
            return _mark(conn, notes, column="escalated_at", stamp=stamp, action="escalate")
        return await self._db.write(run)

    async def alerts(self, now: datetime, shown: int) -> CaseAlerts:
        """How many cases being worked are overdue, late to respond, nearly due or escalated
        at ``now``, and the ``shown`` most urgent (earliest due first)."""
        stamp = local_text(now)
        worked = _t.c.status.in_(_WORKED)
        overdue = _t.c.resolve_by <= stamp
        respond_late = _t.c.responded_at.is_(None) & (_t.c.respond_by <= stamp)
        nearly = (_t.c.remind_at <= stamp) & (_t.c.resolve_by > stamp)
        escalated = _t.c.escalated_at.is_not(None)

        def count(where: Any) -> Any:
            return func.sum(sql_case((where, 1), else_=0))

        def run(conn: Connection) -> CaseAlerts:
            # One pass over the cases being worked for the four counts.
            counts = conn.execute(select(
                count(overdue), count(respond_late), count(nearly), count(escalated),
            ).where(worked)).one()
            rows = conn.execute(
                select(*_COLUMNS).where(worked & or_(overdue, respond_late, nearly))
                .order_by(_t.c.resolve_by, _t.c.number).limit(shown)
            ).all()
            flagged = []
            for row in rows:
                case = Case(*row)
                flagged.append(FlaggedCase(
                    case.number, case.department, case.category, case.status,
                    case.standing(now).word, case.respond_by, case.resolve_by,
                    case.escalated_at is not None))
            late, respond, near, up = (int(n or 0) for n in counts)
            return CaseAlerts(stamp, late, respond, near, up, tuple(flagged))
        return await self._db.read(run)

    async def claim_visits(
        self, now: datetime, lease: timedelta, max_attempts: int, limit: int,
    ) -> list[Case]:
        """Resolved cases whose return visit is due at ``now``, claimed for one attempt each
        (counted now, before the call is placed) until ``now + lease``. A claim whose lease
        ran out without a result (the node died mid-call) is claimed again, or, when its
        attempts are spent, the citizen is recorded unreachable. On several nodes only one
        claims a case (a conditional update)."""
        stamp, until = local_text(now), local_text(now + lease)
        due = ((_t.c.visit_status == VisitStatus.PENDING.value)
               & (_t.c.visit_next_at.is_(None) | (_t.c.visit_next_at <= stamp))) | (
               (_t.c.visit_status == VisitStatus.CALLING.value) & (_t.c.visit_next_at <= stamp))

        def run(conn: Connection) -> list[Case]:
            rows = conn.execute(
                select(*_COLUMNS).where((_t.c.status == CaseStatus.RESOLVED.value) & due)
                .order_by(_t.c.resolved_at, _t.c.number).limit(limit)
            ).all()
            claimed = []
            for row in rows:
                case = Case(*row)
                if case.visit_attempts >= max_attempts:
                    _apply(conn, case.number, "system", stamp, lambda c: visit_failed(
                        c, why="no result", at=stamp, max_attempts=max_attempts,
                        retry_at=stamp))
                    continue
                done = conn.execute(
                    update(_t).where((_t.c.number == case.number)
                                     & (_t.c.visit_status == case.visit_status)
                                     & (_t.c.visit_attempts == case.visit_attempts))
                    .values(visit_status=VisitStatus.CALLING.value, visit_next_at=until,
                            visit_attempts=case.visit_attempts + 1))
                if done.rowcount:
                    claimed.append(dataclasses.replace(
                        case, visit_status=VisitStatus.CALLING.value, visit_next_at=until,
                        visit_attempts=case.visit_attempts + 1))
            return claimed
        return await self._db.write(run)

    async def visit_answered(
        self, number: str, *, resolved: bool, satisfaction: Satisfaction, now: datetime,
        deadlines: DeadlinePolicy | None = None,
    ) -> Case:
        """The citizen's answers to the return visit, with the case (``ivr.core.cases``)."""
        stamp = local_text(now)
        return await self._db.write(lambda conn: _apply(
            conn, number, "citizen", stamp, lambda case: visit_answered(
                case, resolved=resolved, satisfaction=satisfaction, at=stamp,
                deadlines=deadlines)))

    async def visit_failed(
        self, number: str, *, why: str, now: datetime, max_attempts: int, retry_at: datetime,
    ) -> Case:
        stamp = local_text(now)
        return await self._db.write(lambda conn: _apply(
            conn, number, "system", stamp, lambda case: visit_failed(
                case, why=why, at=stamp, max_attempts=max_attempts,
                retry_at=local_text(retry_at))))

    async def department_counts(
        self, first: datetime, end: datetime, now: datetime,
    ) -> list[DepartmentCounts]:
        """Per department, what became of the cases dispatched to it in [first, end) (one
        grouped query; ``ivr.core.rates`` says what each count means). ``now`` decides which
        open cases are overdue."""
        start, stop, stamp = local_text(first), local_text(end), local_text(now)
        c = _t.c
        worked = c.status.in_(_WORKED)
        late_resolve = c.resolve_by.is_not(None) & or_(
            c.resolved_at.is_(None) & worked & (c.resolve_by <= stamp),
            c.resolved_at > c.resolve_by)
        late_respond = c.respond_by.is_not(None) & or_(
            c.responded_at.is_(None) & worked & (c.respond_by <= stamp),
            c.responded_at > c.respond_by)

        def count(condition: Any) -> Any:
            return func.sum(sql_case((condition, 1), else_=0))

        main = c.merged_into == ""  # a merged duplicate is not a dispatch of its own
        query = select(
            c.department, count(main),
            count(main & c.responded_at.is_not(None)),
            count(main & c.responded_at.is_not(None)
                  & (c.respond_by.is_(None) | (c.responded_at <= c.respond_by))),
            count(main & c.resolved_at.is_not(None)),
            count(main & (late_resolve | late_respond)),
            count(c.visit_status == VisitStatus.DONE.value),
            count(c.visit_status == VisitStatus.UNREACHABLE.value),
            count((c.visit_status == VisitStatus.DONE.value) & (c.visit_resolved == 1)),
            *(count((c.visit_status == VisitStatus.DONE.value)
                    & (c.visit_satisfaction == int(level))) for level in Satisfaction),
        ).where((c.dispatched_at >= start) & (c.dispatched_at < stop) & (c.department != "")
                ).group_by(c.department)

        def run(conn: Connection) -> list[DepartmentCounts]:
            return [DepartmentCounts(str(row[0]), *(int(v or 0) for v in row[1:]))
                    for row in conn.execute(query)]
        return await self._db.read(run)

    async def suggestion_tallies(self, first: datetime, end: datetime) -> list[SuggestionTally]:
        """Per suggested department, the cases first dispatched in [first, end) that had a
        suggestion, and how many went where it proposed (``ivr.core.suggest``). A case's
        first dispatch is when ``suggestion_kept`` was written; its moment is the history's."""
        start, stop = local_text(first), local_text(end)
        c, e = _t.c, _events.c
        first_dispatch = (select(e.number, func.min(e.at).label("at"))
                          .where(e.action == CaseAction.DISPATCH.value)
                          .group_by(e.number).subquery())
        query = (select(c.suggested_department, func.count(),
                        func.sum(sql_case((c.suggestion_kept == 1, 1), else_=0)))
                 .join(first_dispatch, first_dispatch.c.number == c.number)
                 .where(c.suggestion_kept.is_not(None) & (first_dispatch.c.at >= start)
                        & (first_dispatch.c.at < stop))
                 .group_by(c.suggested_department))

        def run(conn: Connection) -> list[SuggestionTally]:
            return [SuggestionTally(str(d), int(n), int(k or 0)) for d, n, k in
                    conn.execute(query)]
        return await self._db.read(run)

    async def place_counts(
        self, spans: Sequence[tuple[datetime, datetime]],
    ) -> dict[tuple[str, str], list[int]]:
        """Per (category, place), the cases filed in each [start, end) of ``spans`` (cases
        that named no place are left out): one grouped query over the filing-time index."""
        c = _t.c
        bounds = [(local_text(a), local_text(b)) for a, b in spans]
        which = sql_case(*(((c.created_at >= a) & (c.created_at < b), i)
                           for i, (a, b) in enumerate(bounds)), else_=-1).label("span")
        inside = or_(*((c.created_at >= a) & (c.created_at < b) for a, b in bounds))
        query = (select(c.category, c.place, which, func.count())
                 .where(inside & (c.place != "")).group_by(c.category, c.place, which))

        def run(conn: Connection) -> dict[tuple[str, str], list[int]]:
            out: dict[tuple[str, str], list[int]] = {}
            for category, place, span, n in conn.execute(query):
                if span >= 0:
                    out.setdefault((category, place), [0] * len(bounds))[span] = int(n)
            return out
        return await self._db.read(run)

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many cases each (category, status) pair holds."""
        def run(conn: Connection) -> dict[tuple[str, str], int]:
            rows = conn.execute(select(_t.c.category, _t.c.status, func.count())
                                .group_by(_t.c.category, _t.c.status))
            return {(category, status): int(n) for category, status, n in rows}
        return await self._db.read(run)


def _mark(
    conn: Connection, notes: dict[str, tuple[str, str]], *, column: str, stamp: str,
    action: str,
) -> list[str]:
    """Stamp ``column`` of each case in ``notes`` (number -> its status and the history
    line) where it is still empty, and write their history lines; the numbers stamped (a case
    another node stamped first is left out). Two statements, whatever the count."""
    if not notes:
        return []
    done = conn.execute(
        update(_t).where(_t.c.number.in_(list(notes)) & _t.c[column].is_(None))
        .values({column: stamp}).returning(_t.c.number)
    ).scalars().all()
    if done:
        conn.execute(_events.insert(), [
            {"number": n, "at": stamp, "actor": "system", "status": notes[n][0],
             "note": stored(notes[n][1]), "action": action} for n in done])
    return sorted(done)


def _follow(conn: Connection, main: Case, stamp: str) -> None:
    """The duplicates merged into ``main`` follow it (resolved or closed with it)."""
    numbers = conn.execute(
        select(_t.c.number).where((_t.c.merged_into == main.number)
                                  & (_t.c.status == CaseStatus.MERGED.value))
        .order_by(_t.c.number)).scalars().all()
    for number in numbers:
        _apply(conn, number, "system", stamp, lambda case: follow_main(case, main, at=stamp))


def _apply(
    conn: Connection, number: str, actor: str, stamp: str,
    decide: Callable[[Case], CaseChange | None],
) -> Case:
    """Lock the case, let the core ``decide`` what changes, write it and its history line."""
    row = conn.execute(select(*_COLUMNS).where(_t.c.number == number).with_for_update()
                       ).first()
    if row is None:
        raise RecordNotFound(f"no case {number}")
    case = Case(*row)
    edit = decide(case)
    if edit is None:
        return case
    values = {**edit.values, "updated_at": stamp}
    conn.execute(update(_t).where(_t.c.number == number).values(**values))
    conn.execute(_events.insert().values(
        number=number, at=stamp, actor=actor, status=values.get("status") or case.status,
        note=stored(edit.note), action=edit.action,
    ))
    return Case(*conn.execute(select(*_COLUMNS).where(_t.c.number == number)).one())


def _owned(owner: Owner) -> Any:
    """The cases ``owner`` opened, or opened for a call their operator answered."""
    opened = select(tables.case_events.c.number).where(
        (tables.case_events.c.action == "create")
        & (tables.case_events.c.actor == owner.username))
    condition: Any = _t.c.number.in_(opened)
    if owner.operator_id:
        answered = select(tables.calls.c.call_id).where(
            tables.calls.c.operator == owner.operator_id)
        condition = or_(condition, _t.c.call_id.in_(answered))
    return condition


def cases_of_caller(conn: Connection, caller: str) -> list[Case]:
    """The caller's cases, oldest first, inside a transaction of the caller's (see
    ``CallRecords.caller_history``, which reads them with the caller's calls)."""
    return Cases._where(conn, _t.c.caller == caller, [_t.c.created_at, _t.c.number], None, 0)
