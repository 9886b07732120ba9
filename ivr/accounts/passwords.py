"""Passwords: the only module that imports argon2 (argon2id; hashing and checking run in a
thread, its exceptions never leave this module)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Final

import argon2
import structlog

from ivr.errors import PasswordError

log = structlog.get_logger("ivr.accounts.passwords")

PASSWORD_BYTES: Final = 15  # 20 URL-safe characters

_hasher = argon2.PasswordHasher()
# Checked when the username is unknown, so a missing user costs the same time as a wrong
# password (the answer must not tell them apart).
DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (computed in a thread)."""
    try:
        return await asyncio.to_thread(_hasher.hash, password)
    except argon2.exceptions.HashingError as exc:
        raise PasswordError(f"password could not be hashed: {exc}") from exc


async def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash is logged and never matches."""
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except argon2.exceptions.VerifyMismatchError:
        return False
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError) as exc:
        log.warning("password_hash_unusable", error=str(exc))
        return False
