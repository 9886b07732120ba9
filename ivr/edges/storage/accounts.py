"""Web accounts, their server-side sessions and API tokens (shared by every application node)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from ivr.core.records import ApiToken, Role, User, WebSession
from ivr.edges.storage import tables
from ivr.edges.storage.database import Database
from ivr.edges.storage.tables import utc_text
from ivr.errors import RecordNotFound, RecordRefused

_users = tables.users
_sessions = tables.sessions
_USER_COLUMNS = (
    _users.c.username, _users.c.role, _users.c.password_hash, _users.c.created_at,
    _users.c.operator_id, _users.c.disabled, _users.c.department, _users.c.language,
)


class Users:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, username: str, role: str, password_hash: str, now: datetime, *,
        operator_id: str | None = None, department: str | None = None,
    ) -> User:
        role = Role.parse(role).value
        if not username:
            raise RecordRefused("a user needs a name")
        if (role == Role.DEPARTMENT) != bool(department):
            raise RecordRefused("a department account, and only one, names its department")
        user = User(username, role, password_hash, utc_text(now), operator_id or None, False,
                    department or None)

        def run(conn: Connection) -> User:
            stmt = self._db.insert(_users).values(
                username=user.username, role=user.role, password_hash=user.password_hash,
                created_at=user.created_at, operator_id=user.operator_id, disabled=False,
                department=user.department,
            ).on_conflict_do_nothing(index_elements=[_users.c.username])
            if conn.execute(stmt.returning(_users.c.username)).first() is None:
                raise RecordRefused(f"user {username!r} already exists")
            return user
        return await self._db.write(run)

    async def get(self, username: str) -> User | None:
        def run(conn: Connection) -> User | None:
            found = conn.execute(select(*_USER_COLUMNS).where(_users.c.username == username))
            row = found.first()
            return _user(row) if row is not None else None
        return await self._db.read(run)

    async def all(self) -> list[User]:
        """Every user, by name."""
        def run(conn: Connection) -> list[User]:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(_users.c.username))
            return [_user(row) for row in rows]
        return await self._db.read(run)

    async def update(
        self, username: str, *, role: str | None = None, password_hash: str | None = None,
        operator_id: str | None = None, disabled: bool | None = None,
        language: str | None = None,
    ) -> User:
        """Change what is given; None leaves a field as it is (``operator_id=""`` and
        ``language=""`` clear it).

        Disabling a user, or resetting their password, also ends their sessions.
        """
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = Role.parse(role).value
        if password_hash is not None:
            values["password_hash"] = password_hash
        if operator_id is not None:
            values["operator_id"] = operator_id or None
        if disabled is not None:
            values["disabled"] = disabled
        if language is not None:
            values["language"] = language or None

        def run(conn: Connection) -> User:
            if values:
                conn.execute(update(_users).where(_users.c.username == username)
                             .values(**values))
            if disabled or password_hash is not None:
                # A disabled account, or one whose password was reset, is signed out
                # everywhere at once, on every node.
                conn.execute(delete(_sessions).where(_sessions.c.username == username))
            row = conn.execute(
                select(*_USER_COLUMNS).where(_users.c.username == username)
            ).first()
            if row is None:
                raise RecordNotFound(f"no user {username!r}")
            return _user(row)
        return await self._db.write(run)


class Sessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, token_hash: str, username: str, csrf_token: str, now: datetime,
        expires_at: datetime,
    ) -> WebSession:
        session = WebSession(token_hash, username, csrf_token, utc_text(now),
                             utc_text(expires_at))

        def run(conn: Connection) -> WebSession:
            known = conn.execute(
                select(_users.c.username).where(_users.c.username == username)
            ).first()
            if known is None:
                raise RecordNotFound(f"no user {username!r}")
            conn.execute(_sessions.insert().values(
                token_hash=token_hash, username=username, csrf_token=csrf_token,
                created_at=session.created_at, expires_at=session.expires_at,
            ))
            return session
        return await self._db.write(run)

    async def get(self, token_hash: str, now: datetime) -> WebSession | None:
        """The session, or None when unknown or expired."""
        stamp = utc_text(now)

        def run(conn: Connection) -> WebSession | None:
            t = _sessions
            row = conn.execute(
                select(t.c.token_hash, t.c.username, t.c.csrf_token, t.c.created_at,
                       t.c.expires_at)
                .where((t.c.token_hash == token_hash) & (t.c.expires_at > stamp))
            ).first()
            return WebSession(*row) if row is not None else None
        return await self._db.read(run)

    async def delete(self, token_hash: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(delete(_sessions)
                                      .where(_sessions.c.token_hash == token_hash))
        )

    async def delete_expired(self, now: datetime) -> int:
        """Forget sessions expired at ``now``; returns how many went."""
        stamp = utc_text(now)
        return await self._db.write(
            lambda conn: int(conn.execute(delete(_sessions)
                                          .where(_sessions.c.expires_at <= stamp)).rowcount)
        )


def _user(row: Any) -> User:
    return User(row.username, row.role, row.password_hash, row.created_at, row.operator_id,
                bool(row.disabled), row.department, row.language)


class ApiTokens:
    """Integrations' credentials: created by an admin, found by their hash, revoked."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, name: str, role: str, token_hash: str, created_by: str, now: datetime, *,
        department: str | None = None, expires_at: datetime | None = None,
    ) -> ApiToken:
        role = Role.parse(role).value
        if not name:
            raise RecordRefused("a token needs a name")
        if (role == Role.DEPARTMENT) != bool(department):
            raise RecordRefused("a department's token, and only one, names its department")
        created_at = utc_text(now)
        expires = utc_text(expires_at) if expires_at else None
        values = {
            "name": name, "role": role, "department": department or None,
            "token_hash": token_hash, "created_by": created_by, "created_at": created_at,
            "expires_at": expires,
        }

        def run(conn: Connection) -> ApiToken:
            taken = conn.execute(select(_tokens.c.id).where(
                (_tokens.c.name == name) & _tokens.c.revoked_at.is_(None))).first()
            if taken is not None:
                raise RecordRefused(f"a token named {name!r} is already in use")
            new_id = conn.execute(
                _tokens.insert().values(**values).returning(_tokens.c.id)).scalar_one()
            return ApiToken(int(new_id), name, role, department or None, created_by,
                            created_at, expires)
        return await self._db.write(run)

    async def active(self, token_hash: str, now: datetime) -> ApiToken | None:
        """The token with this hash if it is neither revoked nor expired; notes its use
        (at most once a minute, so a busy integration does not write on every request)."""
        stamp = utc_text(now)

        def run(conn: Connection) -> ApiToken | None:
            t = _tokens
            row = conn.execute(select(*_TOKEN_COLUMNS).where(
                (t.c.token_hash == token_hash) & t.c.revoked_at.is_(None)
                & (t.c.expires_at.is_(None) | (t.c.expires_at > stamp)))).first()
            if row is None:
                return None
            if row.last_used_at is None or row.last_used_at < utc_text(
                    now - timedelta(minutes=1)):
                conn.execute(update(t).where(t.c.id == row.id).values(last_used_at=stamp))
            return _token(row)
        return await self._db.write(run)

    async def all(self) -> list[ApiToken]:
        """Every token, newest first (revoked ones too: they are part of the record)."""
        def run(conn: Connection) -> list[ApiToken]:
            rows = conn.execute(select(*_TOKEN_COLUMNS).order_by(_tokens.c.id.desc()))
            return [_token(row) for row in rows]
        return await self._db.read(run)

    async def revoke(self, token_id: int, now: datetime) -> ApiToken:
        def run(conn: Connection) -> ApiToken:
            conn.execute(update(_tokens).where(
                (_tokens.c.id == token_id) & _tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc_text(now)))
            row = conn.execute(select(*_TOKEN_COLUMNS).where(_tokens.c.id == token_id)).first()
            if row is None:
                raise RecordNotFound(f"no token {token_id}")
            return _token(row)
        return await self._db.write(run)


_tokens = tables.api_tokens
_TOKEN_COLUMNS = (
    _tokens.c.id, _tokens.c.name, _tokens.c.role, _tokens.c.department, _tokens.c.created_by,
    _tokens.c.created_at, _tokens.c.expires_at, _tokens.c.revoked_at, _tokens.c.last_used_at,
)


def _token(row: Any) -> ApiToken:
    return ApiToken(int(row.id), row.name, row.role, row.department, row.created_by,
                    row.created_at, row.expires_at, row.revoked_at, row.last_used_at)
