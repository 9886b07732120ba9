"""The OpenAPI 3.1 document of ``/api`` (served at ``/api/openapi.json``).

Written next to the handlers in ``ivr.web.api``, every body typed by its model in
``ivr.web.bodies`` (the schemas are generated from them); a test checks that every ``/api``
route registered is documented here and that nothing documented is missing, and that real
answers have their documented shape.
"""

from __future__ import annotations

from typing import Any, Final

from ivr.edges.schema import type_schema
from ivr.web import bodies as b
from ivr.web.paging import MAX_LIMIT, TOTAL_HEADER

JSON: Final = "application/json"
_S: Final = {"type": "string"}

SCHEMAS: dict[str, Any] = {}
"""The components' schemas: every model an operation names, and the models inside them."""
_ANSWERS: dict[int, Any] = {}  # id of an operation -> the type of its success answer
_BODIES: dict[int, Any] = {}  # id of an operation -> the model of its request body


def _many(kind: Any) -> Any:
    """``list[kind]`` for a model made at run time (mypy cannot take it as a type)."""
    return list.__class_getitem__(kind)


def _by_name(kind: Any) -> Any:
    """``dict[str, kind]``, likewise."""
    return dict.__class_getitem__((str, kind))


def _schema(kind: Any) -> dict[str, Any]:
    """The schema of a body's type (a model, ``list[Model]``, ``dict[str, Model]``): a
    reference to each model, registered in ``SCHEMAS``."""
    made = type_schema(_many(kind))  # a model inside a list: referenced, never inlined
    SCHEMAS.update(made.pop("$defs", {}))
    item: dict[str, Any] = made["items"]
    return item


_PAGE_HEADERS: Final = {
    TOTAL_HEADER: {"description": "How many items the whole list has",
                   "schema": {"type": "integer", "minimum": 0}},
    "Link": {"description": 'The next and previous pages (rel="next", rel="prev")',
             "schema": _S},
}
_PAGING: Final = (
    {"name": "limit", "in": "query", "description": "Items a page (1-1000)",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    {"name": "offset", "in": "query", "description": "Items skipped (0 or more)",
     "schema": {"type": "integer", "minimum": 0}},
)


def _op(summary: str, role: str, *, ok: Any, body: Any = None, status: str = "200",
        errors: tuple[int, ...] = (), paged: bool = False) -> dict[str, Any]:
    error = _schema(b.Error)
    answer: dict[str, Any] = {"description": "OK", "content": {JSON: {"schema": _schema(ok)}}}
    if paged:
        answer["headers"] = _PAGE_HEADERS
    responses: dict[str, Any] = {
        status: answer,
        "401": {"description": "Not logged in", "content": {JSON: {"schema": error}}},
    }
    if role != "any":
        needs = ("a department account" if role == "department"
                 else f"the {role.split(',', maxsplit=1)[0]} role or higher"
                 + (" or a department account" if "department" in role else ""))
        responses["403"] = {"description": f"Needs {needs} (or CSRF token missing)",
                            "content": {JSON: {"schema": error}}}
    codes = (*errors, 400) if paged and 400 not in errors else errors
    for code in codes:
        responses[str(code)] = {"description": _REASONS[code],
                                "content": {JSON: {"schema": error}}}
    op: dict[str, Any] = {"summary": summary, "x-role": role, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": _schema(body)}}}
        _BODIES[id(op)] = body
    if paged:
        op["parameters"] = list(_PAGING)
    _ANSWERS[id(op)] = ok
    return op


_REASONS: Final = {
    400: "Bad request body or query (a bad limit or offset: bad_paging)", 404: "Not found",
    409: "Refused by the store",
    422: "Does not validate; `problems` lists every problem", 503: "Asterisk unreachable",
}
_NUMBER: Final = {"name": "number", "in": "path", "required": True, "schema": _S}
_CALL_ID: Final = {"name": "call_id", "in": "path", "required": True, "schema": _S}
_ID: Final = {"name": "id", "in": "path", "required": True, "schema": _S}
_CONFIG_NAME: Final = {"name": "name", "in": "path", "required": True,
                       "schema": {"enum": ["skills", "operators", "schedules", "departments",
                                           "deadlines", "intents", "routing",
                                           "quality"]}}


def _operator_action(action: str, body: Any = None) -> dict[str, Any]:
    op = _op(f"{action.capitalize()} an operator (operators: only themselves)", "operator",
             ok=b.OperatorActionDone, errors=(404, 503))
    op["parameters"] = [_ID]
    if body is not None:
        op["requestBody"] = {"required": False, "content": {JSON: {"schema": _schema(body)}}}
        _BODIES[id(op)] = body
    return op


def _with(op: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    made = {**op, "parameters": [*op.get("parameters", ()), *params]}
    _ANSWERS[id(made)] = _ANSWERS[id(op)]
    if id(op) in _BODIES:
        _BODIES[id(made)] = _BODIES[id(op)]
    return made


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "query", "schema": _S} for name in names]


PATHS: Final[dict[str, dict[str, Any]]] = {
    "/api/me": {"get": _op("The logged-in user and the session's CSRF token", "any",
                           ok=b.Me)},
    "/api/me/language": {"put": _op(
        "Set the language of the user's pages and messages: zh_CN, en, or browser (the "
        "browser's Accept-Language decides)", "any", errors=(400,), ok=b.LanguageSet,
        body=b.LanguageChoice)},
    "/api/calls": {"get": _op("Recent calls, newest first (an operator: the calls they "
                              "answered)", "operator", ok=_many(b.Call), paged=True)},
    "/api/cases": {
        "get": _with(_op("Cases, newest first; search by number or caller (their start), "
                         "category, department, status, overdue=1 (an operator: the cases "
                         "they opened or that were opened for a call they answered)",
                         "operator", ok=_many(b.CaseRecord), errors=(400,), paged=True),
                     *_query("status", "number", "caller", "category", "department",
                             "overdue")),
        "post": _op("Open a case", "operator", status="201", errors=(400, 409),
                    ok=b.CaseRecord, body=b.CaseOpening),
    },
    "/api/cases/{number}": {
        "get": _with(_op("One case with its history (a department: its own cases only; an "
                         "operator: their own, else 403 not_yours)",
                         "operator, department", errors=(404,), ok=b.CaseWithHistory),
                     _NUMBER),
        "patch": _with(_op("Change a case (status steps forward; resolved may reopen; an "
                           "operator: their own cases only, else 403 not_yours)",
                           "operator", errors=(400, 404, 409), ok=b.CaseRecord,
                           body=b.CaseChange), _NUMBER),
    },
    "/api/cases/{number}/actions": {"post": _with(_op(
        "Take a step of the loop: the centre dispatch|answer|reopen|close, a department "
        "accept|ask|resolve|return (its own cases only)", "operator, department",
        errors=(400, 404, 409), ok=b.CaseView, body=b.CaseStep), _NUMBER)},
    "/api/cases/{number}/merge": {"post": _with(_op(
        "Merge this case (a duplicate) into the main case 'into': it follows the main case "
        "and its citizen gets their own return visit", "operator", errors=(400, 404, 409),
        ok=b.CaseView, body=b.Merge), _NUMBER)},
    "/api/cases/{number}/duplicates": {"get": _with(_op(
        "Likely duplicates of the case (same category and place, filed within 48 h, similar "
        "words) and the cases merged into it", "operator", errors=(404,), ok=b.Duplicates),
        _NUMBER)},
    "/api/surges": {"get": _op(
        "Surges: cases of one category in one place well above their usual rate (the last "
        "check)", "supervisor", ok=b.Surges)},
    "/api/suggestion": {"post": _op(
        "The suggested department (智能派单) for a category and the caller's words, with "
        "the reasons (zh, en)", "operator", errors=(400,), ok=b.SuggestionAnswer,
        body=b.SuggestionAsked)},
    "/api/department/cases": {"get": _op("The department's work queue (its open cases)",
                                         "department", ok=_many(b.CaseView), paged=True)},
    "/api/dispatch": {"get": _op("What waits for the centre: new and returned cases, "
                                 "departments' questions", "operator", ok=_many(b.CaseView),
                                 paged=True)},
    "/api/reports/departments": {"get": _with(_op(
        "Response, resolution and satisfaction rates per department and street/town, with "
        "their counts and a ranking (a month, or a range of days)", "supervisor",
        errors=(400,), ok=b.DepartmentRates), *_query("month", "from", "to"))},
    "/api/operators": {"get": _op("Operators and their presence", "operator",
                                  ok=_many(b.OperatorPresence), errors=(503,), paged=True)},
    "/api/operators/{id}/login": {"post": _operator_action("login", b.OperatorLogin)},
    "/api/operators/{id}/logout": {"post": _operator_action("logout")},
    "/api/operators/{id}/pause": {"post": _operator_action("pause", b.OperatorPause)},
    "/api/operators/{id}/unpause": {"post": _operator_action("unpause")},
    "/api/figures": {"get": _op("Live figures per skill (by skill id)", "supervisor",
                                ok=_by_name(b.SkillFiguresAnswer))},
    "/api/flows/current": {"get": _op("The live flow and its text", "admin",
                                      ok=b.FlowCurrent)},
    "/api/flows/validate": {"post": _op(
        "Check a flow text; problems with line numbers", "admin", body=b.FlowText,
        ok=b.Validation)},
    "/api/flows/simulate": {"post": _op(
        "Walk a simulated call through a flow text (the live one by default)", "admin",
        errors=(400, 422), body=b.SimulationAsked, ok=b.Simulation)},
    "/api/flows/draw": {"post": _op(
        "The flow text (the live one by default) drawn as SVG: problems on their nodes, a "
        "simulated path highlighted", "admin", errors=(400, 422, 503),
        body=b.DrawingAsked, ok=b.Drawing)},
    "/api/flows/diff": {"post": _op("Unified diff of a flow text against the live flow",
                                    "admin", body=b.FlowText, ok=b.Diff)},
    "/api/flows/publish": {"post": _op(
        "Validate and publish a flow text for new calls", "admin", body=b.FlowText,
        ok=b.Published, errors=(422,))},
    "/api/flows/versions": {"get": _op("Published versions, newest first", "admin",
                                       ok=_many(b.FlowVersion), paged=True)},
    "/api/flows/rollback": {"post": _op(
        "Publish an earlier version again (the one before the live one by default)",
        "admin", ok=b.FlowRolledBack, errors=(404, 409, 422), body=b.VersionChoice)},
    "/api/bulletins": {
        "get": _op("Bulletins, newest first", "supervisor", ok=_many(b.BulletinAnswer),
                   paged=True),
        "post": _op("Post a bulletin (text per language, expiry)", "supervisor",
                    status="201", errors=(400, 409), ok=b.BulletinAnswer,
                    body=b.BulletinPosting),
    },
    "/api/bulletins/{id}/withdraw": {"post": _with(
        _op("Withdraw a bulletin", "supervisor", errors=(404,), ok=b.BulletinAnswer), _ID)},
    "/api/users": {
        "get": _op("Web users", "admin", ok=_many(b.UserAnswer), paged=True),
        "post": _op("Create a user; the generated password is in the answer, once", "admin",
                    status="201", errors=(400, 409), ok=b.NewUser, body=b.UserCreation),
    },
    "/api/users/{username}": {"patch": _with(
        _op("Change role, operator link, disabled; reset_password generates a new one",
            "admin", errors=(400, 404, 409), ok=b.ChangedUser, body=b.UserChange),
        {"name": "username", "in": "path", "required": True, "schema": _S})},
    "/api/config/{name}": {
        "get": _with(_op("A configuration file's text and its live version", "admin",
                         errors=(404,), ok=b.ConfigFile), _CONFIG_NAME),
        "put": _with(_op("Publish a configuration file after validating the whole "
                         "configuration with it: versioned, applied on every node", "admin",
                         body=b.ConfigText, ok=b.ConfigPublished, errors=(404, 422)),
                     _CONFIG_NAME),
    },
    "/api/tokens": {
        "get": _op("API tokens, newest first (never their secrets)", "admin",
                   ok=_many(b.TokenAnswer), paged=True),
        "post": _op("Create an API token; its secret is in the answer, once (an admin signed "
                    "in, not a token)", "admin", status="201", errors=(400, 409),
                    ok=b.NewToken, body=b.TokenCreation),
    },
    "/api/tokens/{id}": {"delete": _with(
        _op("Revoke an API token (at once, on every node)", "admin", errors=(404,),
            ok=b.TokenAnswer), _ID)},
    "/api/config/{name}/versions": {"get": _with(_op(
        "A configuration file's published versions, newest first", "admin",
        ok=_many(b.ConfigVersion), errors=(404,), paged=True), _CONFIG_NAME)},
    "/api/config/{name}/diff": {"post": _with(_op(
        "Unified diff against the live file of a text, or of a published version", "admin",
        body=b.ConfigDiffAsked, ok=b.Diff, errors=(400, 404)), _CONFIG_NAME)},
    "/api/config/{name}/rollback": {"post": _with(_op(
        "Publish an earlier version of a configuration file again (the one before the "
        "live one by default)", "admin", body=b.VersionChoice, ok=b.ConfigRolledBack,
        errors=(400, 404, 409, 422)), _CONFIG_NAME)},
    "/api/quality/calls": {"get": _with(_op(
        "Answered calls for quality review, newest first: from/to (YYYY-MM-DD, at most 31 "
        "days; default the last 7), operator, skill, survey_min/survey_max (1-5), "
        "talk_min/talk_max (seconds), reviewed=yes|no", "supervisor", ok=_many(b.QualityCall),
        errors=(400,), paged=True),
        *_query("from", "to", "operator", "skill", "survey_min", "survey_max", "talk_min",
                "talk_max", "reviewed"))},
    "/api/quality/checklist": {"get": _op("The quality review's checklist", "supervisor",
                                          ok=b.ChecklistAnswer)},
    "/api/quality/reviews/{call_id}": {
        "get": _with(_op("A call's quality review", "supervisor", errors=(404,),
                         ok=b.ReviewAnswer), _CALL_ID),
        "put": _with(_op("Score an answered call against the checklist (every item, a whole "
                         "mark from 0 to its points); replaces its earlier review; audited. "
                         "Marks that do not fit: 400 bad_marks listing every problem, "
                         "nothing saved", "supervisor", errors=(400, 404, 409),
                         ok=b.ReviewAnswer, body=b.ReviewMarks), _CALL_ID),
    },
    "/api/quality/operators": {"get": _with(_op(
        "Quality per operator for the calls that arrived from/to (YYYY-MM-DD, at most 31 "
        "days): answered, reviewed, average score, passed, miss rate per item",
        "supervisor", ok=_many(b.OperatorQualityAnswer), errors=(400,)),
        *_query("from", "to"))},
    "/api/audit": {"get": _op("The audit log, newest first", "admin", ok=_many(b.AuditAnswer),
                              paged=True)},
    "/api/openapi.json": {"get": _op("This document", "any", ok=b.Document)},
}


def answer_type(method: str, path: str) -> Any:
    """The type (model, ``list[Model]``...) an operation's success answer is documented as:
    tests check real answers against it (``ivr.edges.schema.conforms``)."""
    return _ANSWERS[id(PATHS[path][method.lower()])]


def body_type(method: str, path: str) -> Any:
    """The model of an operation's request body (None: it takes none, or not documented)."""
    op = PATHS.get(path, {}).get(method.lower())
    return None if op is None else _BODIES.get(id(op))


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 hotline API", "version": "1",
                 "description": "Session cookie `ivr_session` (log in at /login); every "
                                "request that is not GET sends the session's CSRF token in "
                                "the X-CSRF-Token header. Integrations send an API token "
                                "instead: `Authorization: Bearer ivr_...` (no CSRF token)."},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie",
                                            "name": "ivr_session"},
                                "token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"session": []}, {"token": []}],
        "paths": PATHS,
    }
