"""API tokens: an admin creates one, an integration uses it with the role it was given and
nothing more, every step is audited, and a revoked or expired token opens nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from ivr.web.auth import token_hash
from tests.web.conftest import ApiSession, WebHotline, audited


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_token(admin: ApiSession, **body: Any) -> dict[str, Any]:
    resp = await admin.post("/api/tokens", json=body)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_a_supervisor_token_reaches_what_supervisors_may_and_nothing_more(
    api_as: Any, anonymous: TestClient, hotline: WebHotline,  # type: ignore[type-arg]
) -> None:
    admin: ApiSession = await api_as("admin")
    made = await make_token(admin, name="crm", role="supervisor")
    secret = made["token"]
    assert secret.startswith("ivr_")
    assert made["role"] == "supervisor"
    # The store keeps the hash only; the list never shows the secret.
    listed = await (await admin.get("/api/tokens")).json()
    assert [t["name"] for t in listed] == ["crm"]
    assert "token" not in listed[0]
    assert secret not in str(await hotline.store.api_tokens.all())
    # Allowed to a supervisor: the live figures, bulletins; posting one needs no CSRF token.
    figures = await anonymous.get("/api/figures", headers=bearer(secret))
    assert figures.status == 200
    expires = (hotline.clock.now() + timedelta(hours=1)).isoformat()
    posted = await anonymous.post("/api/bulletins", headers=bearer(secret), json={
        "texts": {"zh": "测试通知"}, "expires_at": expires})
    assert posted.status == 201, await posted.text()
    # Not allowed: admin routes (users, audit, config, tokens).
    for path in ("/api/users", "/api/audit", "/api/config/skills", "/api/tokens"):
        refused = await anonymous.get(path, headers=bearer(secret))
        assert refused.status == 403, path
    # Pages are for people signed in, never for a token.
    page = await anonymous.get("/wallboard", headers=bearer(secret), allow_redirects=False)
    assert page.status == 302
    actions = {(e.actor, e.action) for e in await audited(hotline)}
    assert (admin.username, "token.create") in actions
    assert ("token:crm", "bulletin.post") in actions  # what a token did is in its name


async def test_a_revoked_or_expired_or_wrong_token_is_a_401(
    api_as: Any, anonymous: TestClient, hotline: WebHotline,  # type: ignore[type-arg]
) -> None:
    admin: ApiSession = await api_as("admin")
    made = await make_token(admin, name="reports", role="operator", expires_days=1)
    secret = made["token"]
    assert (await anonymous.get("/api/calls", headers=bearer(secret))).status == 200
    for wrong in ("ivr_" + "x" * 43, "not-a-token", "ivr_" + "y" * 5000):
        resp = await anonymous.get("/api/calls", headers=bearer(wrong))
        assert resp.status == 401
        assert (await resp.json())["error"] == "bad_token"
    revoked = await admin.request("DELETE", f"/api/tokens/{made['id']}")
    assert revoked.status == 200
    assert (await revoked.json())["revoked_at"]
    resp = await anonymous.get("/api/calls", headers=bearer(secret))
    assert resp.status == 401
    assert (admin.username, "token.revoke") in {(e.actor, e.action)
                                               for e in await audited(hotline)}
    # An expired token: its day has passed.
    later = await make_token(admin, name="later", role="operator", expires_days=1)
    store = hotline.store.api_tokens
    assert await store.active(token_hash(later["token"]),
                              hotline.clock.now() + timedelta(days=2)) is None
    assert await store.active(token_hash(later["token"]), hotline.clock.now()) is not None


async def test_a_token_cannot_mint_tokens_nor_ride_on_a_session(
    api_as: Any, hotline: WebHotline,
) -> None:
    """Even an admin token cannot create or revoke tokens; a bad token sent with a valid
    session cookie is refused, not served as the session's user."""
    admin: ApiSession = await api_as("admin")
    secret = (await make_token(admin, name="ops", role="admin"))["token"]
    minted = await admin.client.post("/api/tokens", headers=bearer(secret),
                                     json={"name": "more", "role": "admin"})
    assert minted.status == 403
    assert (await admin.client.get("/api/users", headers=bearer(secret))).status == 200
    spoofed = await admin.client.get("/api/users", headers=bearer("ivr_" + "z" * 43))
    assert spoofed.status == 401
    assert [t["name"] for t in await (await admin.get("/api/tokens")).json()] == ["ops"]


async def test_bad_token_requests_are_refused_with_a_reason(api_as: Any) -> None:
    admin: ApiSession = await api_as("admin")
    for body, field in (
        ({"role": "admin"}, "name"), ({"name": "x" * 65, "role": "admin"}, "name"),
        ({"name": "a", "role": "root"}, "role"),
        ({"name": "a", "role": "department", "department": "nowhere"}, "department"),
        ({"name": "a", "role": "operator", "expires_days": 0}, "expires_days"),
        ({"name": "a", "role": "operator", "expires_days": True}, "expires_days"),
    ):
        resp = await admin.post("/api/tokens", json=body)
        assert resp.status == 400, body
        assert field in (await resp.json())["message"]
    await make_token(admin, name="dup", role="operator")
    again = await admin.post("/api/tokens", json={"name": "dup", "role": "operator"})
    assert again.status == 409
    missing = await admin.request("DELETE", "/api/tokens/999")
    assert missing.status == 404
    # A department's token needs its department, and gets only its own queue.
    dept = await make_token(admin, name="eco", role="department", department="ecology")
    queue = await admin.client.get("/api/department/cases", headers=bearer(dept["token"]))
    assert queue.status == 200
    centre = await admin.client.get("/api/dispatch", headers=bearer(dept["token"]))
    assert centre.status == 403
