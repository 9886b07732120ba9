"""The OpenAPI document is typed: every operation documents the shape of its answer (never a
bare object), and real answers have that shape."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.core.quality import CallReview, score
from ivr.core.records import CallRecord
from ivr.edges.schema import conforms
from ivr.web.openapi import PATHS, answer_type, document

DOC = document()
OPERATIONS = sorted((method.upper(), path) for path, methods in PATHS.items()
                    for method in methods)


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def typed(schema: dict[str, Any]) -> bool:
    """A schema that says what is inside: an object with properties (or typed values), an
    array of typed items."""
    schema = resolved(schema)
    if schema.get("type") == "array":
        return typed(schema["items"])
    if schema.get("type") == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(extra, dict) and typed(extra))
    return bool(schema.get("type") or schema.get("anyOf") or schema.get("enum"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_documents_a_typed_answer_and_body(method: str, path: str) -> None:
    op = PATHS[path][method.lower()]
    ok = next(code for code in op["responses"] if code.startswith("2"))
    schema = op["responses"][ok]["content"]["application/json"]["schema"]
    assert schema != {"type": "object"}
    assert typed(schema), (method, path, resolved(schema))
    if "requestBody" in op:
        body = resolved(op["requestBody"]["content"]["application/json"]["schema"])
        assert body["properties"], (method, path)
        assert body["additionalProperties"] is False


def test_the_document_refers_only_to_schemas_it_has() -> None:
    text = str(DOC)
    names = set(re.findall(r"#/components/schemas/(\w+)", text))
    assert names <= set(DOC["components"]["schemas"])
    assert {"Case", "Call", "AuditEntry", "ApiToken", "User", "SkillFigures"} <= names


SAMPLE = {"number": "", "id": "op1001", "username": "", "name": "skills", "call_id": "c1"}


async def test_real_answers_have_their_documented_shape(api_as, hotline):
    """Every GET an admin can read, after a call, a case, a user and a token exist: each
    answer validates against its documented type (an undeclared key fails too)."""
    await hotline.store.calls.save(CallRecord(
        call_id="c1", channel="PJSIP/x-1", caller="13800001111", language="zh",
        arrived_at=datetime(2026, 11, 28, 9, tzinfo=UTC).isoformat()))
    checklist = hotline.settings.quality
    await hotline.store.reviews.save(CallReview.of(
        ("c1", "op1001", "2026-11-28T09:00:00+00:00"), "sue",
        score(checklist, {i.id: i.points for i in checklist.items}),
        "", datetime(2026, 11, 28, 10, tzinfo=UTC).isoformat()))
    admin = await api_as("admin")
    operator = await api_as("operator", "op1001")
    made = await operator.post("/api/cases", json={
        "caller": "13800001111", "category": "report", "description": "broken streetlight"})
    case = await made.json()
    assert conforms(answer_type("POST", "/api/cases"), case) == []
    user = await admin.post("/api/users", json={"username": "zhang", "role": "supervisor"})
    assert conforms(answer_type("POST", "/api/users"), await user.json()) == []
    token = await admin.post("/api/tokens", json={"name": "crm", "role": "supervisor"})
    assert conforms(answer_type("POST", "/api/tokens"), await token.json()) == []
    changed = await admin.patch("/api/users/zhang", json={"reset_password": True})
    assert conforms(answer_type("PATCH", "/api/users/{username}"), await changed.json()) == []
    sample = {**SAMPLE, "number": case["number"], "username": "zhang"}
    checked = []
    for method, path in OPERATIONS:
        if method != "GET" or path.startswith("/api/department"):
            continue
        resp = await admin.get(re.sub(r"\{(\w+)\}", lambda m: sample[m.group(1)], path))
        if resp.status == 503:  # /api/operators without Asterisk: documented as such
            continue
        assert resp.status == 200, (path, await resp.text())
        assert conforms(answer_type(method, path), await resp.json()) == [], path
        checked.append(path)
    assert {"/api/calls", "/api/cases", "/api/cases/{number}", "/api/audit", "/api/figures",
            "/api/users", "/api/tokens", "/api/me", "/api/openapi.json",
            "/api/reports/departments", "/api/config/{name}", "/api/quality/reviews/{call_id}",
            "/api/quality/calls", "/api/quality/operators"} <= set(checked)


async def test_an_undeclared_key_fails_the_check() -> None:
    """The check is not a formality: an answer with a key the document does not declare, or
    a wrong type, is reported."""
    kind = answer_type("GET", "/api/me")
    good = {"username": "a", "role": "admin", "created_at": "x", "operator_id": None,
            "disabled": False, "department": None, "csrf": "t"}
    assert conforms(kind, good) == []
    assert conforms(kind, {**good, "password_hash": "x"})
    assert conforms(kind, {**good, "disabled": "no"})
