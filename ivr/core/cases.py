"""Cases: the record a citizen's request becomes, its numbers and its lifecycle. Pure.

Theory of operation (接诉即办, the loop behind the phone)::

    new --dispatch--> dispatched --accept--> in_progress --resolve--> resolved --close--> closed
                         |  ^                    |                       |
                         |  +---- dispatch ----+ |                       +--reopen--> in_progress
                         +-------return------> returned <---return------+

    an open case --merge--> merged --(its main case resolved or closed)--> resolved | closed

The centre (operators, supervisors, admins) dispatches a case to a department or a street
(``config/departments.yaml``); the department accepts it, may ask the centre a question (the
case keeps its status and carries the question until the centre answers), replies with what
was done and marks it resolved, or returns a case that is not its own with a reason. A returned
case has no department until the centre dispatches it again. A resolved case is reopened when
the citizen says it is not resolved. ``act`` is the one rule for these steps: who may take
which step from which status, and what each step writes (the case's fields and its history
line). A department's account sees and acts on its own department's cases only: any other case
is "not found" to it, never "refused", so it cannot learn which cases exist.

A duplicate (the same problem from another caller) is merged into a main case (``merge``):
it follows the main case (``follow_main``), so each citizen gets their own return visit.

``CaseStatus.may_become`` is the table the centre's plain edits (``change``) follow: forward
steps, ``returned -> dispatched``, and the reopening ``resolved -> in_progress``.

A case number is what a citizen keys in on the phone: 10 digits, the last digit of the year,
the day of the year, a 5-digit sequence of the day and a Luhn check digit, so the IVR can
refuse a mistyped number before asking the database.

The IVR reads a status back in its own words (``READBACK_STATUSES``), one prompt per word.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from ivr.core.deadlines import DeadlinePolicy, Standing, standing
from ivr.core.words import N_, Ref, Words, joined
from ivr.errors import RecordNotFound, RecordRefused

# Cases a day a number can tell apart: 5 digits of sequence (Beijing: ~65,000 a day).
MAX_CASES_PER_DAY = 99_999
CASE_NUMBER_LENGTH = 10
READBACK_STATUSES = ("received", "processing", "resolved", "closed", "unknown")
"""What the IVR can say about a case (prompt ``ivr/case-status-<word>``)."""


class CaseStatus(enum.StrEnum):
    """Where a case stands; the order is the lifecycle's."""

    NEW = "new"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RETURNED = "returned"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"  # a duplicate: it follows its main case (``merged_into``)

    @classmethod
    def parse(cls, text: str) -> CaseStatus:
        """The status named ``text``; ``RecordRefused`` for a word that is not one."""
        try:
            return cls(text)
        except ValueError:
            raise RecordRefused(f"unknown case status {text!r}") from None

    @property
    def is_open(self) -> bool:
        """Still being worked on: the citizen waits for an answer."""
        return self in _OPEN

    @property
    def readback(self) -> str:
        """How the IVR reads this status back to a caller (one of ``READBACK_STATUSES``)."""
        return _READBACK[self]

    def may_become(self, wanted: CaseStatus) -> bool:
        """Whether a case in this status may move to ``wanted`` (see the module docstring)."""
        return wanted in _NEXT[self]


_S = CaseStatus
_NEXT: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    _S.NEW: frozenset({_S.DISPATCHED, _S.IN_PROGRESS, _S.RESOLVED, _S.CLOSED}),
    _S.DISPATCHED: frozenset({_S.IN_PROGRESS, _S.RETURNED, _S.RESOLVED, _S.CLOSED}),
    _S.IN_PROGRESS: frozenset({_S.RETURNED, _S.RESOLVED, _S.CLOSED}),
    _S.RETURNED: frozenset({_S.DISPATCHED, _S.CLOSED}),
    _S.RESOLVED: frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    _S.CLOSED: frozenset(),
    _S.MERGED: frozenset({_S.RESOLVED, _S.CLOSED}),
}
_ORDER = {status: n for n, status in enumerate(CaseStatus)}
_OPEN = frozenset({_S.NEW, _S.DISPATCHED, _S.IN_PROGRESS, _S.RETURNED, _S.MERGED})
_READBACK = {
    _S.NEW: "received", _S.DISPATCHED: "processing", _S.IN_PROGRESS: "processing",
    _S.RETURNED: "processing", _S.RESOLVED: "resolved", _S.CLOSED: "closed",
    _S.MERGED: "processing",
}


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    caller: str
    category: str
    status: str
    created_at: str
    updated_at: str
    call_id: str | None = None
    department: str = ""
    description: str = ""
    satisfaction: int | None = None
    urgency: str = "normal"
    dispatched_at: str | None = None
    responded_at: str | None = None
    resolved_at: str | None = None
    question: str = ""
    reply: str = ""
    returned_from: str = ""
    return_reason: str = ""
    respond_by: str | None = None
    resolve_by: str | None = None
    remind_at: str | None = None
    reminded_at: str | None = None
    escalated_at: str | None = None
    visit_status: str = ""
    visit_attempts: int = 0
    visit_next_at: str | None = None
    visit_resolved: int | None = None
    visit_satisfaction: int | None = None
    visit_at: str | None = None
    place: str = ""  # the street or town the caller named ("" for none)
    suggested_department: str = ""  # proposed when the case was filed (ivr.core.suggest)
    suggestion_reason: str = ""
    suggestion_kept: int | None = None  # at its first dispatch: 1 went there, 0 elsewhere
    merged_into: str = ""  # the main case this duplicate was merged into

    def standing(self, now: datetime) -> Standing:
        """Overdue or nearly due at ``now`` (``ivr.core.deadlines``)."""
        return standing(self.status, now, respond_by=self.respond_by,
                        resolve_by=self.resolve_by, remind_at=self.remind_at,
                        responded_at=self.responded_at)

    @property
    def is_open(self) -> bool:
        """Still being worked on (a status this release does not know is not open)."""
        return self.status in _OPEN

    @property
    def readback(self) -> str:
        """The IVR's word for the case's status ("unknown" for a status it does not know)."""
        known = self.status in _ORDER
        return CaseStatus(self.status).readback if known else "unknown"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One change to a case: who, when, the status after it, and what was said."""

    number: str
    at: str
    actor: str
    status: str
    note: str
    action: str = ""


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What an edit changes on a case (``values``: field -> new text) and the note its
    history line carries."""

    values: Mapping[str, str | int | None]
    note: str
    action: str = "update"


def change(
    case: Case, fields: Mapping[str, str], status: str | None, note: str, at: str = "", *,
    deadlines: DeadlinePolicy | None = None,
) -> CaseChange | None:
    """The centre's edit of ``case`` to ``fields`` (category, department, description) and
    ``status``, with ``note``, at ``at``; None when it changes nothing and says nothing.

    ``RecordRefused`` when the status may not move that way.
    """
    said: list[str] = [note.strip()] if note.strip() else []
    values: dict[str, str | None] = {}
    for name, value in fields.items():
        old = getattr(case, name)
        if value != old:
            values[name] = value
            if name != "description":
                said.append(f"{name}: {old or '-'} -> {value or '-'}")
            else:
                said.append(Words(N_("description changed")))
    if status is not None and status != case.status:
        current, wanted = CaseStatus.parse(case.status), CaseStatus.parse(status)
        if not current.may_become(wanted):
            raise RecordRefused(Words(N_(
                "case %(case)s cannot go from %(current)s to %(wanted)s (cases move new -> "
                "dispatched -> in_progress -> resolved -> closed; a returned case is "
                "dispatched again; only a resolved case can be reopened)"),
                case=case.number, current=_status_words(current),
                wanted=_status_words(wanted)))
        values["status"] = wanted.value
        if current is CaseStatus.RESOLVED and wanted is CaseStatus.IN_PROGRESS:
            said.insert(0, Words(N_("reopened")))
            values["resolved_at"] = None
        if wanted is CaseStatus.DISPATCHED and at:
            values.update(dispatched_at=at, responded_at=None, returned_from="",
                          return_reason="", **_deadlines(case, at, deadlines))
    if not values and not said:
        return None
    return CaseChange(values, joined("; ", said))


MAX_TEXT = 2000
"""The longest reply, question, answer or reason a step may carry (characters)."""


class CaseAction(enum.StrEnum):
    """A step of the loop (see the module docstring); the history line names it."""

    DISPATCH = "dispatch"
    ANSWER = "answer"
    REOPEN = "reopen"
    CLOSE = "close"
    ACCEPT = "accept"
    ASK = "ask"
    RESOLVE = "resolve"
    RETURN = "return"

    @classmethod
    def parse(cls, text: str) -> CaseAction:
        try:
            return cls(text)
        except ValueError:
            raise RecordRefused(Words(N_("unknown case action %(action)s (one of %(all)s)"),
                                      action=repr(text), all=", ".join(cls))) from None

    @property
    def by_department(self) -> bool:
        """A step a department takes (the others are the centre's)."""
        return self in _DEPARTMENT_STEPS


_A = CaseAction
_DEPARTMENT_STEPS = frozenset({_A.ACCEPT, _A.ASK, _A.RESOLVE, _A.RETURN})
# From which statuses each step may be taken.
_FROM: Mapping[CaseAction, frozenset[CaseStatus]] = {
    _A.DISPATCH: frozenset({_S.NEW, _S.DISPATCHED, _S.RETURNED}),
    _A.ANSWER: frozenset({_S.DISPATCHED, _S.IN_PROGRESS}),
    _A.REOPEN: frozenset({_S.RESOLVED}),
    _A.CLOSE: frozenset({_S.NEW, _S.DISPATCHED, _S.IN_PROGRESS, _S.RETURNED, _S.RESOLVED}),
    _A.ACCEPT: frozenset({_S.DISPATCHED}),
    _A.ASK: frozenset({_S.DISPATCHED, _S.IN_PROGRESS}),
    _A.RESOLVE: frozenset({_S.DISPATCHED, _S.IN_PROGRESS}),
    _A.RETURN: frozenset({_S.DISPATCHED, _S.IN_PROGRESS}),
}
# Steps that need words: what was done, what is asked, the answer, why it is returned.
_NEEDS_TEXT = frozenset({_A.ANSWER, _A.ASK, _A.RESOLVE, _A.RETURN})
# Statuses and steps inside a refusal, said in the reader's language (``ivr.core.words``).
_STATUS_WORDS: Mapping[str, Words] = {
    _S.NEW: Words(N_("new")), _S.DISPATCHED: Words(N_("dispatched")),
    _S.IN_PROGRESS: Words(N_("in_progress")), _S.RETURNED: Words(N_("returned")),
    _S.RESOLVED: Words(N_("resolved")), _S.CLOSED: Words(N_("closed")),
    _S.MERGED: Words(N_("merged")),
}
_ACTION_WORDS: Mapping[CaseAction, Words] = {
    _A.DISPATCH: Words(N_("dispatch")), _A.ANSWER: Words(N_("answer")),
    _A.REOPEN: Words(N_("reopen")), _A.CLOSE: Words(N_("close")),
    _A.ACCEPT: Words(N_("accept")), _A.ASK: Words(N_("ask")),
    _A.RESOLVE: Words(N_("resolve")), _A.RETURN: Words(N_("return")),
}


def _status_words(status: str) -> Words | str:
    return _STATUS_WORDS.get(status, status)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who takes a step: a web account (or the IVR); ``department`` for a department's
    account, None for the centre's staff."""

    username: str
    department: str | None = None
    own_only: bool = False
    """An operator's account: sees only its own cases (``Owner``), not the centre's."""
    operator_id: str | None = None
    """The operator an ``own_only`` account is linked to (their calls' cases are theirs)."""

    @property
    def owner(self) -> Owner | None:
        """Whose cases this actor sees: None for everyone's (the centre's supervisors and
        admins, and departments, who are limited by ``visible_to``)."""
        return Owner(self.username, self.operator_id) if self.own_only else None


@dataclass(frozen=True, slots=True)
class Owner:
    """The cases that are an operator's: those they opened (the case's ``create`` step was
    theirs) and those opened for a call they answered (the case's ``call_id``)."""

    username: str
    operator_id: str | None


def _deadlines(
    case: Case, at: str, deadlines: DeadlinePolicy | None
) -> dict[str, str | None]:
    """The deadline fields a dispatch (or a reopening) at ``at`` writes: fresh ones, nothing
    reminded or escalated yet."""
    if deadlines is None or not at:
        return {}
    due = deadlines.due(case.category, case.urgency, datetime.fromisoformat(at))
    return {"respond_by": due.respond_by, "resolve_by": due.resolve_by,
            "remind_at": due.remind_at, "reminded_at": None, "escalated_at": None}


def visible_to(case: Case, actor: Actor) -> bool:
    """Whether ``actor`` may see ``case``: the centre sees every case, a department its own."""
    return actor.department is None or case.department == actor.department


def act(
    case: Case, action: CaseAction, actor: Actor, *, at: str, text: str = "",
    department: str = "", departments: Collection[str] = (),
    deadlines: DeadlinePolicy | None = None,
) -> CaseChange:
    """What taking ``action`` on ``case`` at ``at`` writes: the fields and the history line.

    ``department`` is where a dispatch sends the case (one of ``departments``); a dispatch
    or a reopening gives it fresh deadlines by ``deadlines`` (``ivr.core.deadlines``). A
    department's account acting on a case that is not its own gets ``RecordNotFound``; a step
    the actor's side may not take, or not from the case's status, or without the words it
    needs, gets ``RecordRefused``.
    """
    if not visible_to(case, actor):
        raise RecordNotFound(f"no case {case.number}")
    if action.by_department != (actor.department is not None):
        if action.by_department:
            raise RecordRefused(Words(N_("only a department may %(action)s a case"),
                                      action=_ACTION_WORDS[action]))
        raise RecordRefused(Words(N_("only the centre may %(action)s a case"),
                                  action=_ACTION_WORDS[action]))
    status = CaseStatus.parse(case.status) if case.status in _ORDER else None
    if status not in _FROM[action]:
        allowed = joined(", ", (_STATUS_WORDS[s] for s in sorted(_FROM[action],
                                                                 key=_ORDER.__getitem__)))
        raise RecordRefused(Words(N_("case %(case)s is %(status)s: %(action)s is taken from "
                                     "%(allowed)s"), case=case.number,
                                  status=_status_words(case.status),
                                  action=_ACTION_WORDS[action], allowed=allowed))
    words = " ".join(text.split()) if action is not _A.RESOLVE else text.strip()
    if len(words) > MAX_TEXT:
        raise RecordRefused(Words(N_("the text is %(n)s characters; %(max)s at most"),
                                  n=len(words), max=MAX_TEXT))
    if action in _NEEDS_TEXT and not words:
        raise RecordRefused(Words(N_("%(action)s needs a text (what was done, asked, answered "
                                     "or why)"), action=_ACTION_WORDS[action]))
    values: dict[str, str | int | None] = {}
    said: list[str] = []
    first_response = {"responded_at": at} if case.responded_at is None else {}
    match action:
        case _A.DISPATCH:
            if department not in departments:
                raise RecordRefused(Words(N_("no department %(department)s to dispatch to"),
                                          department=repr(department)))
            values.update(status=_S.DISPATCHED.value, department=department,
                          dispatched_at=at, responded_at=None, resolved_at=None,
                          question="", returned_from="", return_reason="",
                          **_deadlines(case, at, deadlines))
            said.append(Words(N_("dispatched to %(department)s"),
                              department=Ref("department", department)))
            if case.suggested_department and case.suggestion_kept is None:
                kept = department == case.suggested_department
                values["suggestion_kept"] = int(kept)
                said.append(Words(N_("as suggested")) if kept else Words(
                    N_("suggested %(department)s, changed"),
                    department=Ref("department", case.suggested_department)))
        case _A.ANSWER:
            if not case.question:
                raise RecordRefused(Words(N_("case %(case)s has no question to answer"),
                                          case=case.number))
            values["question"] = ""
            said.append(Words(N_("answered")))
        case _A.REOPEN:
            values.update(status=_S.IN_PROGRESS.value, resolved_at=None,
                          **_deadlines(case, at, deadlines))
            if case.visit_status in (VisitStatus.PENDING, VisitStatus.CALLING):
                values.update(visit_status="", visit_next_at=None)  # no visit: not resolved
            said.append(Words(N_("reopened")))
        case _A.CLOSE:
            values["status"] = _S.CLOSED.value
            said.append(Words(N_("closed")))
        case _A.ACCEPT:
            values.update(status=_S.IN_PROGRESS.value, **first_response)
            said.append(Words(N_("accepted")))
        case _A.ASK:
            values.update(question=words, **first_response)
            said.append(Words(N_("asked the centre")))
        case _A.RESOLVE:
            values.update(status=_S.RESOLVED.value, reply=words, resolved_at=at, question="",
                          **first_response, **_VISIT_DUE)
            said.append(Words(N_("resolved")))
        case _A.RETURN:
            values.update(status=_S.RETURNED.value, department="", returned_from=case.department,
                          return_reason=words, question="", responded_at=None)
            said.append(Words(N_("returned by %(department)s"),
                              department=Ref("department", case.department)))
    if words:
        said.append(words)
    return CaseChange(values, joined(": ", said), action.value)


# -- merging duplicates ---------------------------------------------------------------------

_MERGEABLE = frozenset({_S.NEW, _S.DISPATCHED, _S.IN_PROGRESS, _S.RETURNED})


def merge(
    case: Case, main: Case, actor: Actor, *, at: str, has_duplicates: bool,
) -> tuple[CaseChange, CaseChange]:
    """Merge ``case`` (a duplicate: the same problem, another caller) into ``main``: what
    each of the two writes. The duplicate becomes ``merged``: it leaves its department's queue
    and has no deadline of its own (the main case's are the ones that count); when the main
    case is resolved or closed it follows (``follow_main``), so its citizen gets their own
    return visit. Only the centre merges, open cases only, never a case into itself, into a
    duplicate, nor a case other cases were merged into (``has_duplicates``: merge the other way
    round). ``RecordRefused`` says which."""
    if actor.department is not None:
        raise RecordNotFound(f"no case {case.number}")
    if case.number == main.number:
        raise RecordRefused(Words(N_("a case cannot be merged into itself")))
    if case.status not in _MERGEABLE:
        raise RecordRefused(Words(N_("the duplicate %(case)s is %(status)s: only open cases "
                                     "are merged"), case=case.number,
                                  status=_status_words(case.status)))
    if main.status not in _MERGEABLE:
        raise RecordRefused(Words(N_("the main case %(case)s is %(status)s: only open cases "
                                     "are merged"), case=main.number,
                                  status=_status_words(main.status)))
    if has_duplicates:
        raise RecordRefused(Words(N_("cases were merged into %(case)s: merge %(main)s into "
                                     "%(case)s instead"), case=case.number, main=main.number))
    values: dict[str, str | int | None] = {
        "status": _S.MERGED.value, "merged_into": main.number, "department": "",
        "question": "", "respond_by": None, "resolve_by": None, "remind_at": None,
        "reminded_at": None, "escalated_at": None,
    }
    note = Words(N_("merged into %(main)s (was with %(department)s)"), main=main.number,
                 department=Ref("department", case.department)) if case.department \
        else Words(N_("merged into %(main)s"), main=main.number)
    return (CaseChange(values, note, "merge"),
            CaseChange({}, Words(N_("case %(case)s (caller %(caller)s) merged into this one"),
                             case=case.number, caller=case.caller), "merged_in"))


def follow_main(case: Case, main: Case, *, at: str) -> CaseChange | None:
    """A duplicate follows its main case: resolved with it (the main case's reply, its
    department and dates, and a return visit of its own for its citizen) or closed with it.
    None when the main case's status is one a duplicate does not follow."""
    if case.status != _S.MERGED or case.merged_into != main.number:
        return None
    if main.status == _S.RESOLVED:
        return CaseChange({
            "status": _S.RESOLVED.value, "department": main.department, "reply": main.reply,
            "dispatched_at": main.dispatched_at, "responded_at": main.responded_at,
            "respond_by": main.respond_by, "resolve_by": main.resolve_by, "resolved_at": at,
            **_VISIT_DUE,
        }, Words(N_("resolved with case %(case)s: %(reply)s"), case=main.number,
                 reply=main.reply), "resolve")
    if main.status == _S.CLOSED:
        return CaseChange({"status": _S.CLOSED.value},
                          Words(N_("closed with case %(case)s"), case=main.number), "close")
    return None


def _minute(stamp: str) -> str:
    """A stored local time as a note shows it: ``2026-12-29 18:00`` (other text as it is)."""
    try:
        return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def reminder_note(due: str) -> Words:
    """The history line of a case's reminder: nearly due."""
    return Words(N_("nearly due: to be resolved by %(due)s"), due=_minute(due))


def escalation_note(*, respond_by: str | None, resolve_by: str | None) -> Words:
    """The history line of a case escalated to the supervisors: late to respond (when
    ``respond_by`` is given) or to resolve."""
    missed = Words(N_("not responded by %(at)s"), at=_minute(respond_by)) \
        if respond_by is not None \
        else Words(N_("not resolved by %(at)s"), at=_minute(str(resolve_by)))
    return Words(N_("overdue (%(missed)s): escalated to the supervisors"), missed=missed)


# -- the return visit (回访) -------------------------------------------------------------------

class VisitStatus(enum.StrEnum):
    """Where a resolved case's return visit stands: ``pending`` (to be called, at
    ``visit_next_at`` or as soon as the calling window allows), ``calling`` (a call is being
    placed or the citizen is on the line), ``done`` (the citizen answered both questions),
    ``unreachable`` (every attempt failed: never counted as satisfied or resolved)."""

    PENDING = "pending"
    CALLING = "calling"
    DONE = "done"
    UNREACHABLE = "unreachable"


class Satisfaction(enum.IntEnum):
    """The citizen's evaluation, keyed on the phone (1, 2, 3)."""

    SATISFIED = 1  # 满意
    BASICALLY_SATISFIED = 2  # 基本满意
    DISSATISFIED = 3  # 不满意


_VISIT_DUE: Mapping[str, str | int | None] = {
    "visit_status": VisitStatus.PENDING.value, "visit_attempts": 0, "visit_next_at": None,
    "visit_resolved": None, "visit_satisfaction": None, "visit_at": None,
}


def visit_answered(
    case: Case, *, resolved: bool, satisfaction: Satisfaction, at: str,
    deadlines: DeadlinePolicy | None = None,
) -> CaseChange:
    """The citizen answered the return visit. Not resolved: the case is reopened (back to its
    department, with fresh deadlines); resolved: it is closed. Either way the answers stay."""
    if case.visit_status not in (VisitStatus.PENDING, VisitStatus.CALLING):
        raise RecordRefused(Words(N_("case %(case)s has no return visit under way"),
                                  case=case.number))
    values: dict[str, str | int | None] = {
        "visit_status": VisitStatus.DONE.value, "visit_resolved": int(resolved),
        "visit_satisfaction": int(satisfaction), "visit_at": at, "visit_next_at": None,
    }
    words = {Satisfaction.SATISFIED: Words(N_("satisfied")),
             Satisfaction.BASICALLY_SATISFIED: Words(N_("basically satisfied")),
             Satisfaction.DISSATISFIED: Words(N_("dissatisfied"))}[satisfaction]
    if resolved:
        values["status"] = _S.CLOSED.value
        note = Words(N_("return visit: resolved, %(satisfaction)s; closed"), satisfaction=words)
        action = "visit"
    else:
        values.update(status=_S.IN_PROGRESS.value, resolved_at=None,
                      **_deadlines(case, at, deadlines))
        note = Words(N_("return visit: not resolved, %(satisfaction)s; reopened"),
                     satisfaction=words)
        action = "visit_reopen"
    return CaseChange(values, note, action)


def visit_failed(
    case: Case, *, why: str, at: str, max_attempts: int, retry_at: str,
) -> CaseChange:
    """An attempt of the return visit failed (no answer, busy, no keys; attempts are counted
    when they are claimed): try again at ``retry_at``, or, after ``max_attempts``, the citizen
    is unreachable."""
    if case.visit_status not in (VisitStatus.PENDING, VisitStatus.CALLING):
        raise RecordRefused(Words(N_("case %(case)s has no return visit under way"),
                                  case=case.number))
    attempts = case.visit_attempts
    if attempts >= max_attempts:
        return CaseChange(
            {"visit_status": VisitStatus.UNREACHABLE.value, "visit_attempts": attempts,
             "visit_next_at": None, "visit_at": at},
            Words(N_("return visit attempt %(n)s failed (%(why)s): citizen unreachable"),
                  n=attempts, why=why),
            "visit_unreachable")
    return CaseChange(
        {"visit_status": VisitStatus.PENDING.value, "visit_attempts": attempts,
         "visit_next_at": retry_at},
        Words(N_("return visit attempt %(n)s failed (%(why)s); next at %(at)s"), n=attempts,
              why=why, at=_minute(retry_at)), "visit_failed")


def in_window(moment: datetime, start_minute: int, end_minute: int) -> bool:
    """Whether ``moment`` (local time) is within the calling window [start, end)."""
    minute = moment.hour * 60 + moment.minute
    return start_minute <= minute < end_minute


def case_number(day_of_year: int, year: int, sequence: int) -> str:
    """10 digits: last digit of the year, day of the year, 5-digit sequence, Luhn check digit.

    ``RecordRefused`` when the day has used up its numbers.
    """
    if not 1 <= sequence <= MAX_CASES_PER_DAY:
        raise RecordRefused(f"case sequence {sequence} out of range for one day")
    payload = f"{year % 10}{day_of_year:03d}{sequence:05d}"
    return payload + luhn_check_digit(payload)


def case_number_valid(number: str) -> bool:
    """A case number is 10 digits whose last digit is the Luhn check digit of the first 9."""
    if len(number) != CASE_NUMBER_LENGTH or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def luhn_check_digit(payload: str) -> str:
    """The Luhn digit that makes ``payload + digit`` pass the Luhn check."""
    total = 0
    # Double every second digit counting from the right of the payload (the check digit
    # will be position 0, so the payload's rightmost digit is doubled).
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)
