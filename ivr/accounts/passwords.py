"""Passwords: the only module that imports argon2 (argon2id; hashing and checking run in a
small pool of their own, its exceptions never leave this module).

Each check takes about 64 MiB and tens of milliseconds of a core: in the shared default pool a
login flood would starve the database and file work queued behind it, and run as many checks
at once as that pool has threads. ``PASSWORD_THREADS`` bounds both.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Final, TypeVar

import argon2
import structlog

from ivr.edges.threads import PASSWORDS, named_pool
from ivr.errors import PasswordError

log = structlog.get_logger("ivr.accounts.passwords")

PASSWORD_BYTES: Final = 15  # 20 URL-safe characters
PASSWORD_THREADS: Final = 2
MAX_PASSWORD_CHARS: Final = 1024
"""Longest password checked or set (a generated one has 20 characters)."""

_pool = named_pool(PASSWORD_THREADS, PASSWORDS)
_T = TypeVar("_T")


async def _in_pool(work: Callable[..., _T], *args: str) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_pool, work, *args)

_hasher = argon2.PasswordHasher()
# Checked when the username is unknown, so a missing user costs the same time as a wrong
# password (the answer must not tell them apart).
DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (computed in the password pool)."""
    try:
        return await _in_pool(_hasher.hash, password)
    except argon2.exceptions.HashingError as exc:
        raise PasswordError(f"password could not be hashed: {exc}") from exc


async def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash is logged and never matches,
    and so is a password longer than ``MAX_PASSWORD_CHARS`` (checked against the dummy hash,
    so it costs the same time)."""
    too_long = len(password) > MAX_PASSWORD_CHARS
    if too_long:
        password_hash, password = DUMMY_HASH, "-"
    try:
        return await _in_pool(_hasher.verify, password_hash, password) and not too_long
    except argon2.exceptions.VerifyMismatchError:
        return False
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError) as exc:
        log.warning("password_hash_unusable", error=str(exc))
        return False
