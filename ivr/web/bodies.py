"""The API's request and response bodies as models (``ivr.edges.schema``): the OpenAPI
document (``ivr.web.openapi``) is generated from them, and tests check real answers against
it. A body made of a record (a call, a case, a token) takes the record's own fields
(``record_answer``); the others are declared here, one model a body.
"""

from __future__ import annotations

from typing import Any, Literal

from ivr.core.cases import Case, CaseEvent
from ivr.core.figures import SkillFigures
from ivr.core.records import ApiToken, AuditEntry, Bulletin, CallRecord, User
from ivr.edges.schema import Answer, ConfigDict, Field, Shape, record_answer

RoleName = Literal["operator", "supervisor", "admin", "department"]

# -- answers made of records ---------------------------------------------------------------

_USER_DROP = ("password_hash", "language")  # the hash never leaves; language: its own call

UserAnswer = record_answer("User", User, drop=_USER_DROP)
Me = record_answer("Me", User, drop=_USER_DROP, csrf=(str, ...))
NewUser = record_answer("NewUser", User, drop=_USER_DROP, password=(str, ...))
ChangedUser = record_answer("ChangedUser", User, drop=_USER_DROP,
                            password=(str | None, Field(default=None, description=(
                                "The new password, when reset_password was asked"))))
Call = record_answer("Call", CallRecord)
CaseRecord = record_answer("Case", Case)
CaseHistoryEntry = record_answer("CaseEvent", CaseEvent)
CaseWithHistory = record_answer("CaseWithHistory", Case,
                                history=(list[CaseHistoryEntry], ...))  # type: ignore[valid-type]
_VIEW_DROP = ("visit_next_at", "reminded_at", "remind_at")
CaseView = record_answer("CaseView", Case, drop=_VIEW_DROP, flag=(str, ...),
                         department_name=(str, ...))
LikelyDuplicate = record_answer("LikelyDuplicate", Case, drop=_VIEW_DROP, flag=(str, ...),
                                department_name=(str, ...), similarity=(float, ...))
AuditAnswer = record_answer("AuditEntry", AuditEntry)
BulletinAnswer = record_answer("Bulletin", Bulletin)
TokenAnswer = record_answer("ApiToken", ApiToken)
NewToken = record_answer("NewApiToken", ApiToken, token=(str, Field(
    description="The secret: in this answer only")))
SkillFiguresAnswer = record_answer("SkillFigures", SkillFigures,
                                   service_level_percent=(float | None, ...),
                                   meets_target=(bool | None, ...))


# -- other answers -------------------------------------------------------------------------

class Error(Answer):
    """Every error: a stable id, a message in the user's language, the problems if any."""

    error: str
    message: str
    problems: list[dict[str, Any]] | None = None


class LanguageSet(Answer):
    language: str


class OperatorPresence(Answer):
    id: str
    name: str
    state: str
    skills: dict[str, int]
    languages: list[str]
    queues: list[str]
    paused: bool
    reason: str
    in_call: bool


class OperatorActionDone(Answer):
    operator: str
    action: Literal["login", "logout", "pause", "unpause"]
    skills: list[str] | None = None
    reason: str | None = None


class SuggestionReason(Answer):
    zh: str
    en: str
    text: str


class SuggestionAnswer(Answer):
    """The suggested department (``department`` "" for none) and why."""

    department: str
    name: str
    reasons: list[SuggestionReason]
    place: str


class Duplicates(Answer):
    likely: list[LikelyDuplicate]  # type: ignore[valid-type]
    merged: list[CaseView]  # type: ignore[valid-type]


class SurgeAnswer(Answer):
    category: str
    place: str
    category_name: str
    place_name: str
    count: int
    usual: float
    ratio: float
    since: str


class Surges(Answer):
    at: str | None
    surges: list[SurgeAnswer]


class SuggestionKept(Answer):
    department: str
    suggested: int
    kept: int
    kept_rate: float | None


class SuggestionsKept(Answer):
    total: SuggestionKept
    by_department: list[SuggestionKept]


class RankedDepartment(Answer):
    rank: int
    department: str
    name: str
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    counts: dict[str, int]


class DepartmentRates(Answer):
    """A period's rates; besides ``from``, ``to`` and ``suggestions``, one ranked list per
    kind of department (``departments``, ``streets``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    __pydantic_extra__: dict[str, list[RankedDepartment]]
    first: str = Field(alias="from")
    last: str = Field(alias="to")
    suggestions: SuggestionsKept


class FlowCurrent(Answer):
    name: str
    version: str
    version_id: int | None
    digest: str
    text: str


class FlowProblemAnswer(Answer):
    file: str
    line: int
    node: str
    message: str
    kind: str


class Validation(Answer):
    valid: bool
    problems: list[FlowProblemAnswer]


class Simulation(Answer):
    transcript: str
    outcome: str
    path: list[str]


class Drawing(Answer):
    svg: str
    lines: dict[str, int]
    problems: list[FlowProblemAnswer]


class Diff(Answer):
    changed: bool
    diff: str


class Published(Answer):
    name: str
    version: str
    version_id: int
    digest: str


class FlowRolledBack(Answer):
    name: str
    version: str
    version_id: int
    rolled_back_to: int


class FlowVersion(Answer):
    id: int
    flow: str
    version: str
    digest: str
    published_by: str
    published_at: str
    note: str
    live: bool


class ConfigFile(Answer):
    name: str
    file: str
    text: str
    digest: str
    version_id: int | None


class ConfigPublished(Answer):
    name: str
    file: str
    digest: str
    version_id: int


class ConfigVersion(Answer):
    id: int
    digest: str
    published_by: str
    published_at: str
    note: str
    live: bool


class ConfigRolledBack(Answer):
    name: str
    file: str
    version_id: int
    rolled_back_to: int


class Document(Answer):
    """This document (OpenAPI 3.1)."""

    openapi: str
    info: dict[str, Any]
    components: dict[str, Any]
    security: list[dict[str, list[str]]]
    paths: dict[str, Any]


class ChecklistItemAnswer(Answer):
    id: str
    name: str = Field(description="In the user's language")
    names: dict[str, str] = Field(description="Language = name")
    points: int


class ChecklistAnswer(Answer):
    """The quality review's checklist (config/quality.yaml)."""

    pass_percent: float
    points: int
    items: list[ChecklistItemAnswer]


class ReviewAnswer(Answer):
    """A call's quality review (the latest saved)."""

    call_id: str
    arrived_at: str = Field(description="When the call arrived (it counts in that period)")
    reviewer: str
    operator: str
    marks: dict[str, int]
    points: int
    max_points: int
    percent: float
    passed: bool
    missed: list[str] = Field(description="Items marked below their full points")
    comment: str
    reviewed_at: str


class QualityCall(Answer):
    """An answered call found by the quality search, with its score if reviewed."""

    call_id: str
    arrived_at: str
    operator: str | None
    skill: str | None
    survey_score: int | None
    talk_seconds: float | None
    recording_status: str | None
    review_percent: float | None
    reviewed_by: str | None


class OperatorQualityAnswer(Answer):
    """One operator's quality over the range of days."""

    operator: str
    answered: int
    reviewed: int
    average_percent: float | None
    passed: int
    miss_rates: dict[str, float] = Field(description="Item id = share (0-1) of the reviewed "
                                                     "calls in which it was missed")


# -- request bodies ------------------------------------------------------------------------

class LanguageChoice(Shape):
    language: str = Field(description="zh_CN, en, or browser")


class CaseOpening(Shape):
    caller: str
    category: str
    department: str = ""
    description: str = ""
    call_id: str = ""


class CaseChange(Shape):
    status: str | None = None
    category: str | None = None
    department: str | None = None
    description: str | None = None
    note: str | None = None


class CaseStep(Shape):
    action: Literal["dispatch", "answer", "reopen", "close", "accept", "ask", "resolve",
                    "return"]
    text: str = ""
    department: str = ""


class Merge(Shape):
    into: str = Field(description="The main case's number")


class SuggestionAsked(Shape):
    category: str = ""
    text: str = ""


class OperatorLogin(Shape):
    skills: list[str] | None = Field(default=None, description="Default: every skill of theirs")


class OperatorPause(Shape):
    reason: str = "break"


class FlowText(Shape):
    text: str
    note: str = ""


class SimulationAsked(Shape):
    text: str = Field(default="", description="Default: the live flow")
    digits: str = ""
    say: str = ""
    language: str = ""
    at: str = ""
    caller: str = ""
    caller_known: bool = False
    open_cases: int = Field(default=0, ge=0)


class DrawingAsked(Shape):
    text: str = ""
    path: list[str] = Field(default=[])


class VersionChoice(Shape):
    version_id: int | None = Field(default=None, description="Default: the one before the "
                                                             "live one")


class BulletinPosting(Shape):
    texts: dict[str, str] = Field(description="Language = text")
    expires_at: str


class UserCreation(Shape):
    username: str
    role: RoleName
    operator_id: str | None = None
    department: str | None = None


class UserChange(Shape):
    role: RoleName | None = None
    operator_id: str | None = None
    disabled: bool | None = None
    reset_password: bool = False


class ConfigText(Shape):
    text: str
    note: str = ""


class ConfigDiffAsked(Shape):
    text: str | None = None
    version_id: int | None = None


class ReviewMarks(Shape):
    marks: dict[str, int] = Field(description="Checklist item id = mark, 0 to its points "
                                              "(every item)")
    comment: str = ""


class TokenCreation(Shape):
    name: str
    role: RoleName
    department: str | None = None
    expires_days: int | None = None
