"""Web accounts: created with a generated password that is shown once, never a default one.

Used by the API (admins create users), the CLI (``ivr users add|list|passwd``) and set-up
(``ensure_first_admin``).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from ivr.errors import AccountError
from ivr.web.auth import ROLES, hash_password

if TYPE_CHECKING:
    from ivr.core.records import User
    from ivr.edges.storage.store import Store

USERNAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FIRST_ADMIN: Final = "admin"
PASSWORD_BYTES: Final = 15  # 20 URL-safe characters


def generate_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


async def create_account(
    store: Store, username: str, role: str, *, operator_id: str | None = None,
) -> tuple[User, str]:
    """Create a user with a generated password; returns the user and the password (once)."""
    if not USERNAME.match(username):
        raise AccountError(
            f"username {username!r}: use letters, digits, '.', '_' or '-' (64 at most)")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    password = generate_password()
    user = await store.users.create(username, role, await hash_password(password),
                                   datetime.now(UTC), operator_id=operator_id)
    return user, password


async def reset_password(store: Store, username: str) -> str:
    """Give ``username`` a new generated password and return it (once)."""
    if await store.users.get(username) is None:
        raise AccountError(f"no user {username!r}")
    password = generate_password()
    await store.users.update(username, password_hash=await hash_password(password))
    return password


async def ensure_first_admin(store: Store) -> str | None:
    """Create user "admin" with a generated password when no enabled admin exists.

    Returns the password (print it once) or None when an admin already exists. If a user
    named "admin" exists without the admin role, it is left alone and an error is raised.
    """
    existing = await store.users.all()
    if any(u.role == "admin" and not u.disabled for u in existing):
        return None
    if any(u.username == FIRST_ADMIN for u in existing):
        raise AccountError(
            f"no enabled admin, and user {FIRST_ADMIN!r} exists with another role or disabled;"
            " create one with `ivr users add NAME --role admin`")
    _, password = await create_account(store, FIRST_ADMIN, "admin")
    return password
