"""The OpenAPI 3.1 document of ``/api`` (served at ``/api/openapi.json``).

Maintained by hand next to the handlers in ``ivr.web.api``; a test checks that every
``/api`` route registered is documented here and that nothing documented is missing.
"""

from __future__ import annotations

from typing import Any, Final

JSON: Final = "application/json"


def _obj(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required)}


_S: Final = {"type": "string"}
_I: Final = {"type": "integer"}
_B: Final = {"type": "boolean"}
_ANY_LIST: Final = {"type": "array", "items": {"type": "object"}}
_ANY: Final = {"type": "object"}

SCHEMAS: Final[dict[str, Any]] = {
    "Error": _obj(("error", "message"), error=_S, message=_S,
                  problems={"type": "array", "items": {"type": "object"}}),
    "User": _obj(("username", "role"), username=_S,
                 role={"enum": ["operator", "supervisor", "admin", "department"]},
                 operator_id={"type": ["string", "null"]},
                 department={"type": ["string", "null"]}, disabled=_B, created_at=_S),
    "FlowProblem": _obj(("line", "message"), line=_I, node=_S, message=_S, kind=_S),
    "FlowText": _obj(("text",), text=_S, note=_S),
    "Published": _obj(("name", "version", "version_id"), name=_S, version=_S,
                      version_id=_I, digest=_S),
    "ConfigText": _obj(("text",), text=_S, note=_S),
    "ApiToken": _obj(("id", "name", "role"), id=_I, name=_S,
                     role={"enum": ["operator", "supervisor", "admin", "department"]},
                     department={"type": ["string", "null"]}, created_by=_S, created_at=_S,
                     expires_at={"type": ["string", "null"]},
                     revoked_at={"type": ["string", "null"]},
                     last_used_at={"type": ["string", "null"]},
                     token={"type": "string", "description": "The secret: in the answer "
                            "to its creation only"}),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(summary: str, role: str, *, body: dict[str, Any] | None = None,
        ok: dict[str, Any] | None = None, status: str = "200",
        errors: tuple[int, ...] = ()) -> dict[str, Any]:
    responses: dict[str, Any] = {
        status: {"description": "OK", "content": {JSON: {"schema": ok or _ANY}}},
        "401": {"description": "Not logged in", "content": {JSON: {"schema": _ref("Error")}}},
    }
    if role != "any":
        needs = ("a department account" if role == "department"
                 else f"the {role.split(',', maxsplit=1)[0]} role or higher"
                 + (" or a department account" if "department" in role else ""))
        responses["403"] = {"description": f"Needs {needs} (or CSRF token missing)",
                            "content": {JSON: {"schema": _ref("Error")}}}
    for code in errors:
        responses[str(code)] = {"description": _REASONS[code],
                                "content": {JSON: {"schema": _ref("Error")}}}
    op: dict[str, Any] = {"summary": summary, "x-role": role, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return op


_REASONS: Final = {
    400: "Bad request body or query", 404: "Not found", 409: "Refused by the store",
    422: "Does not validate; `problems` lists every problem", 503: "Asterisk unreachable",
}
_NUMBER: Final = {"name": "number", "in": "path", "required": True, "schema": _S}
_ID: Final = {"name": "id", "in": "path", "required": True, "schema": _S}
_LIMIT: Final = {"name": "limit", "in": "query", "schema": _I}
_CONFIG_NAME: Final = {"name": "name", "in": "path", "required": True,
                       "schema": {"enum": ["skills", "operators", "schedules", "departments",
                                           "deadlines", "intents"]}}


def _operator_action(action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op = _op(f"{action.capitalize()} an operator (operators: only themselves)", "operator",
             errors=(404, 503))
    op["parameters"] = [_ID]
    if body is not None:
        op["requestBody"] = {"required": False, "content": {JSON: {"schema": body}}}
    return op


def _with(op: dict[str, Any], *params: dict[str, Any]) -> dict[str, Any]:
    return {**op, "parameters": list(params)}


PATHS: Final[dict[str, dict[str, Any]]] = {
    "/api/me": {"get": _op("The logged-in user and the session's CSRF token", "any")},
    "/api/me/language": {"put": _op(
        "Set the language of the user's pages and messages: zh_CN, en, or browser (the "
        "browser's Accept-Language decides)", "any", errors=(400,),
        body=_obj(("language",), language=_S))},
    "/api/calls": {"get": _with(_op("Recent calls, newest first (an operator: the calls they "
                                    "answered)", "operator",
                                    ok=_ANY_LIST), _LIMIT)},
    "/api/cases": {
        "get": _with(_op("Cases, newest first; search by number or caller (their start), "
                         "category, department, status, overdue=1 (an operator: the cases "
                         "they opened or that were opened for a call they answered)",
                         "operator",
                         ok=_ANY_LIST, errors=(400,)), _LIMIT,
                     {"name": "status", "in": "query", "schema": _S},
                     {"name": "number", "in": "query", "schema": _S},
                     {"name": "caller", "in": "query", "schema": _S},
                     {"name": "category", "in": "query", "schema": _S},
                     {"name": "department", "in": "query", "schema": _S},
                     {"name": "overdue", "in": "query", "schema": _S},
                     {"name": "offset", "in": "query", "schema": _I}),
        "post": _op("Open a case", "operator", status="201", errors=(400, 409),
                    body=_obj(("caller", "category"), caller=_S, category=_S, department=_S,
                              description=_S, call_id=_S)),
    },
    "/api/cases/{number}": {
        "get": _with(_op("One case with its history (a department: its own cases only; an "
                         "operator: their own, else 403 not_yours)",
                         "operator, department", errors=(404,)), _NUMBER),
        "patch": _with(_op("Change a case (status steps forward; resolved may reopen; an "
                           "operator: their own cases only, else 403 not_yours)",
                           "operator", errors=(400, 404, 409),
                           body=_obj(status=_S, category=_S, department=_S, description=_S,
                                     note=_S)), _NUMBER),
    },
    "/api/cases/{number}/actions": {"post": _with(_op(
        "Take a step of the loop: the centre dispatch|answer|reopen|close, a department "
        "accept|ask|resolve|return (its own cases only)", "operator, department",
        errors=(400, 404, 409),
        body=_obj(("action",), action={"enum": ["dispatch", "answer", "reopen", "close",
                                                "accept", "ask", "resolve", "return"]},
                  text=_S, department=_S)), _NUMBER)},
    "/api/cases/{number}/merge": {"post": _with(_op(
        "Merge this case (a duplicate) into the main case 'into': it follows the main case "
        "and its citizen gets their own return visit", "operator", errors=(400, 404, 409),
        body=_obj(("into",), into=_S)), _NUMBER)},
    "/api/cases/{number}/duplicates": {"get": _with(_op(
        "Likely duplicates of the case (same category and place, filed within 48 h, similar "
        "words) and the cases merged into it", "operator", errors=(404,)), _NUMBER)},
    "/api/surges": {"get": _op(
        "Surges: cases of one category in one place well above their usual rate (the last "
        "check)", "supervisor")},
    "/api/suggestion": {"post": _op(
        "The suggested department (智能派单) for a category and the caller's words, with "
        "the reasons (zh, en)", "operator", errors=(400,),
        body=_obj(category=_S, text=_S))},
    "/api/department/cases": {"get": _op("The department's work queue (its open cases)",
                                         "department", ok=_ANY_LIST)},
    "/api/dispatch": {"get": _op("What waits for the centre: new and returned cases, "
                                 "departments' questions", "operator", ok=_ANY_LIST)},
    "/api/reports/departments": {"get": _with(_op(
        "Response, resolution and satisfaction rates per department and street/town, with "
        "their counts and a ranking (a month, or a range of days)", "supervisor",
        errors=(400,)),
        {"name": "month", "in": "query", "schema": _S},
        {"name": "from", "in": "query", "schema": _S},
        {"name": "to", "in": "query", "schema": _S})},
    "/api/operators": {"get": _op("Operators and their presence", "operator",
                                  ok=_ANY_LIST, errors=(503,))},
    "/api/operators/{id}/login": {
        "post": _operator_action("login", _obj(skills={"type": "array", "items": _S}))},
    "/api/operators/{id}/logout": {"post": _operator_action("logout")},
    "/api/operators/{id}/pause": {"post": _operator_action("pause", _obj(reason=_S))},
    "/api/operators/{id}/unpause": {"post": _operator_action("unpause")},
    "/api/figures": {"get": _op("Live figures per skill", "supervisor")},
    "/api/flows/current": {"get": _op("The live flow and its text", "admin")},
    "/api/flows/validate": {"post": _op(
        "Check a flow text; problems with line numbers", "admin", body=_ref("FlowText"),
        ok=_obj(("valid", "problems"), valid=_B,
                problems={"type": "array", "items": _ref("FlowProblem")}))},
    "/api/flows/simulate": {"post": _op(
        "Walk a simulated call through a flow text (the live one by default)", "admin",
        errors=(400, 422),
        body=_obj(text=_S, digits=_S, say=_S, language=_S, at=_S, caller=_S,
                  caller_known=_B, open_cases={"type": "integer", "minimum": 0}),
        ok=_obj(("transcript",), transcript=_S, outcome=_S,
                path={"type": "array", "items": _S}))},
    "/api/flows/draw": {"post": _op(
        "The flow text (the live one by default) drawn as SVG: problems on their nodes, a "
        "simulated path highlighted", "admin", errors=(400, 422, 503),
        body=_obj(text=_S, path={"type": "array", "items": _S}),
        ok=_obj(("svg", "lines", "problems"), svg=_S,
                lines={"type": "object", "additionalProperties": {"type": "integer"}},
                problems={"type": "array", "items": {"type": "object"}}))},
    "/api/flows/diff": {"post": _op("Unified diff of a flow text against the live flow",
                                    "admin", body=_ref("FlowText"),
                                    ok=_obj(("diff",), changed=_B, diff=_S))},
    "/api/flows/publish": {"post": _op(
        "Validate and publish a flow text for new calls", "admin", body=_ref("FlowText"),
        ok=_ref("Published"), errors=(422,))},
    "/api/flows/versions": {"get": _op("Published versions, newest first", "admin",
                                       ok=_ANY_LIST)},
    "/api/flows/rollback": {"post": _op(
        "Publish an earlier version again (the one before the live one by default)",
        "admin", ok=_ref("Published"), errors=(404, 409, 422),
        body=_obj(version_id=_I))},
    "/api/bulletins": {
        "get": _op("Bulletins, newest first", "supervisor", ok=_ANY_LIST),
        "post": _op("Post a bulletin (text per language, expiry)", "supervisor",
                    status="201", errors=(400, 409),
                    body=_obj(("texts", "expires_at"),
                              texts={"type": "object", "additionalProperties": _S},
                              expires_at=_S)),
    },
    "/api/bulletins/{id}/withdraw": {"post": _with(
        _op("Withdraw a bulletin", "supervisor", errors=(404,)), _ID)},
    "/api/users": {
        "get": _op("Web users", "admin", ok={"type": "array", "items": _ref("User")}),
        "post": _op("Create a user; the generated password is in the answer, once", "admin",
                    status="201", errors=(400, 409),
                    body=_obj(("username", "role"), username=_S, role=_S, operator_id=_S,
                              department=_S)),
    },
    "/api/users/{username}": {"patch": _with(
        _op("Change role, operator link, disabled; reset_password generates a new one",
            "admin", errors=(400, 404, 409),
            body=_obj(role=_S, operator_id={"type": ["string", "null"]}, disabled=_B,
                      reset_password=_B)),
        {"name": "username", "in": "path", "required": True, "schema": _S})},
    "/api/config/{name}": {
        "get": _with(_op("A configuration file's YAML text and its live version", "admin",
                         errors=(404,)), _CONFIG_NAME),
        "put": _with(_op("Publish a configuration file after validating the whole "
                         "configuration with it: versioned, applied on every node", "admin",
                         body=_ref("ConfigText"), errors=(404, 422)), _CONFIG_NAME),
    },
    "/api/tokens": {
        "get": _op("API tokens, newest first (never their secrets)", "admin",
                   ok={"type": "array", "items": _ref("ApiToken")}),
        "post": _op("Create an API token; its secret is in the answer, once (an admin signed "
                    "in, not a token)", "admin", status="201", errors=(400, 409),
                    ok=_ref("ApiToken"),
                    body=_obj(("name", "role"), name=_S, role=_S, department=_S,
                              expires_days=_I)),
    },
    "/api/tokens/{id}": {"delete": _with(
        _op("Revoke an API token (at once, on every node)", "admin", errors=(404,),
            ok=_ref("ApiToken")), _ID)},
    "/api/config/{name}/versions": {"get": _with(_op(
        "A configuration file's published versions, newest first", "admin", ok=_ANY_LIST,
        errors=(404,)), _CONFIG_NAME)},
    "/api/config/{name}/diff": {"post": _with(_op(
        "Unified diff against the live file of a text, or of a published version", "admin",
        body=_obj(text=_S, version_id=_I), ok=_obj(("diff",), changed=_B, diff=_S),
        errors=(400, 404)), _CONFIG_NAME)},
    "/api/config/{name}/rollback": {"post": _with(_op(
        "Publish an earlier version of a configuration file again (the one before the "
        "live one by default)", "admin", body=_obj(version_id=_I),
        errors=(400, 404, 409, 422)), _CONFIG_NAME)},
    "/api/audit": {"get": _with(_op("The audit log, newest first", "admin", ok=_ANY_LIST),
                                _LIMIT)},
    "/api/openapi.json": {"get": _op("This document", "any")},
}


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
