"""Web accounts: created with a generated password that is shown once, never a default one.

Used by the API (admins create users), the CLI (``ivr users add|list|passwd``) and set-up
(``ensure_first_admin``).
"""

from __future__ import annotations

import re
from typing import Final

from ivr.accounts.passwords import generate_password, hash_password
from ivr.core.records import Role, User
from ivr.edges.clock import SYSTEM_CLOCK, Clock
from ivr.edges.storage.accounts import Users
from ivr.errors import AccountError

USERNAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FIRST_ADMIN: Final = "admin"


async def create_account(
    users: Users, username: str, role: str, *, operator_id: str | None = None,
    department: str | None = None, clock: Clock = SYSTEM_CLOCK,
) -> tuple[User, str]:
    """Create a user with a generated password; returns the user and the password (once).
    A ``department`` account names its department (checked against the configuration by
    the caller)."""
    if not USERNAME.match(username):
        raise AccountError(
            f"username {username!r}: use letters, digits, '.', '_' or '-' (64 at most)")
    if not Role.known(role):
        raise AccountError(f"role {role!r}: must be one of {', '.join(Role)}")
    if (role == Role.DEPARTMENT) != bool(department):
        raise AccountError(f"role {role!r}: a department account (and only one) needs "
                           "--department ID")
    password = generate_password()
    user = await users.create(username, role, await hash_password(password), clock.now(),
                              operator_id=operator_id, department=department)
    return user, password


async def reset_password(users: Users, username: str) -> str:
    """Give ``username`` a new generated password and return it (once)."""
    if await users.get(username) is None:
        raise AccountError(f"no user {username!r}")
    password = generate_password()
    await users.update(username, password_hash=await hash_password(password))
    return password


async def ensure_first_admin(users: Users) -> str | None:
    """Create user "admin" with a generated password when no enabled admin exists.

    Returns the password (print it once) or None when an admin already exists. If a user
    named "admin" exists without the admin role, it is left alone and an error is raised.
    """
    existing = await users.all()
    if any(u.role == Role.ADMIN and not u.disabled for u in existing):
        return None
    if any(u.username == FIRST_ADMIN for u in existing):
        raise AccountError(
            f"no enabled admin, and user {FIRST_ADMIN!r} exists with another role or disabled;"
            " create one with `ivr users add NAME --role admin`")
    _, password = await create_account(users, FIRST_ADMIN, Role.ADMIN)
    return password
