"""API tokens: what an ``Auth-Token`` header may do.

Tokens are random strings shown once, when created; Postgres keeps only their SHA-256, the
permissions they carry, and an optional expiry. The query function (protected data,
reprocessing) and the collect function (symbol upload) check them through ``TokenStore``.
A token with ``manage_tokens`` makes and revokes tokens in the web UI (``/tokens/``); every
token made or revoked is recorded in ``token_events`` (who, when, what).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

from crashflow.stores.interfaces import ReportRows
from crashflow.ttlcache import TtlCache

PERMISSIONS = (
    "view_pii",
    "view_rawdump",
    "reprocess_crashes",
    "run_custom_queries",
    "upload_symbols",
    "view_symbols",
    "manage_tokens",
)
MANAGE_TOKENS = "manage_tokens"
TOKEN_BYTES = 32


class InvalidToken(Exception):
    """The token is unknown, revoked or expired."""


class UnknownPermission(ValueError):
    """A permission that crashflow does not have."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_permissions(permissions) -> list[str]:
    """The permissions as a sorted list, or UnknownPermission."""
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise UnknownPermission(f"unknown permission(s) {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}")
    return sorted(set(permissions))


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token itself."""

    id: int
    permissions: tuple[str, ...]
    note: str
    created: dt.datetime
    expires: dt.datetime | None
    revoked: dt.datetime | None
    created_by: int | None

    @property
    def live(self) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > dt.datetime.now(dt.timezone.utc))


@dataclass(frozen=True)
class TokenEvent:
    id: int
    at: dt.datetime
    actor_id: int | None  # the token that acted; None: the command line
    actor_note: str | None
    action: str  # "create" or "revoke"
    token_id: int
    token_note: str
    details: dict


TOKEN_COLUMNS = "id, permissions, note, created, expires, revoked, created_by"


def _info(row) -> TokenInfo:
    id_, permissions, note, created, expires, revoked, created_by = row
    return TokenInfo(id_, tuple(sorted(permissions)), note, created, expires, revoked, created_by)


class TokenStore:
    """Creates, revokes, lists and checks API tokens in the ``api_tokens`` table, and
    records each change in ``token_events``."""

    def __init__(self, database: ReportRows):
        self.database = database

    def create(self, permissions, expires_days: float | None = None, note: str = "",
               actor_id: int | None = None) -> str:
        """A new token with ``permissions``, made by the token ``actor_id`` (None: the
        command line); the only time the token itself is known."""
        granted = check_permissions(permissions)
        if expires_days is not None and not 0 < expires_days <= 100 * 365:
            raise ValueError("a token expires after more than 0 and at most 36500 days")
        token = secrets.token_hex(TOKEN_BYTES)
        expires = None
        if expires_days is not None:
            expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=expires_days)
        with self.database.connection() as connection:
            rows = connection.run(
                "INSERT INTO api_tokens (token_hash, permissions, note, expires, created_by) "
                "VALUES (:hash, CAST(:permissions AS text[]), :note, :expires, :actor) RETURNING id",
                hash=token_hash(token), permissions=granted, note=note, expires=expires, actor=actor_id,
            )
            self._record(connection, actor_id, "create", rows[0][0],
                         {"permissions": granted, "note": note, "expires": expires.isoformat() if expires else None})
        return token

    def revoke(self, token: str) -> bool:
        """Revoke ``token``; False when there was no such live token."""
        with self.database.connection() as connection:
            rows = connection.run(
                "UPDATE api_tokens SET revoked = now() WHERE token_hash = :hash AND revoked IS NULL RETURNING id",
                hash=token_hash(token),
            )
            if rows:
                self._record(connection, None, "revoke", rows[0][0], {})
            return bool(rows)

    def revoke_id(self, token_id: int, actor_id: int | None) -> bool:
        """Revoke the token ``token_id`` on behalf of the token ``actor_id``; False when
        there was no such live token."""
        with self.database.connection() as connection:
            rows = connection.run(
                "UPDATE api_tokens SET revoked = now() WHERE id = :id AND revoked IS NULL RETURNING id",
                id=token_id,
            )
            if rows:
                self._record(connection, actor_id, "revoke", token_id, {})
            return bool(rows)

    @staticmethod
    def _record(connection, actor_id: int | None, action: str, token_id: int, details: dict) -> None:
        connection.run(
            "INSERT INTO token_events (actor_id, action, token_id, details) "
            "VALUES (:actor, :action, :token, CAST(:details AS jsonb))",
            actor=actor_id, action=action, token=token_id, details=json.dumps(details),
        )

    def info(self, token: str) -> TokenInfo | None:
        """What may be shown about ``token`` (None: no such token)."""
        with self.database.connection() as connection:
            rows = connection.run(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = :hash",
                                  hash=token_hash(token))
        return _info(rows[0]) if rows else None

    def list(self, limit: int = 500) -> list[TokenInfo]:
        """Every token, newest first (live ones before revoked and expired ones)."""
        with self.database.connection() as connection:
            rows = connection.run(
                f"SELECT {TOKEN_COLUMNS} FROM api_tokens "
                "ORDER BY (revoked IS NULL AND (expires IS NULL OR expires > now())) DESC, id DESC LIMIT :limit",
                limit=limit)
        return [_info(row) for row in rows]

    def events(self, limit: int = 100) -> list[TokenEvent]:
        """The latest changes to tokens, newest first."""
        with self.database.connection() as connection:
            rows = connection.run(
                "SELECT e.id, e.at, e.actor_id, actor.note, e.action, e.token_id, token.note, e.details "
                "FROM token_events e JOIN api_tokens token ON token.id = e.token_id "
                "LEFT JOIN api_tokens actor ON actor.id = e.actor_id ORDER BY e.at DESC, e.id DESC LIMIT :limit",
                limit=limit)
        return [TokenEvent(*row[:7], row[7] if isinstance(row[7], dict) else json.loads(row[7] or "{}"))
                for row in rows]

    def permissions(self, token: str) -> frozenset[str]:
        """The permissions of a live token, or InvalidToken."""
        with self.database.connection() as connection:
            rows = connection.run(
                "SELECT permissions, expires, revoked FROM api_tokens WHERE token_hash = :hash",
                hash=token_hash(token),
            )
        if not rows:
            raise InvalidToken("unknown token")
        permissions, expires, revoked = rows[0]
        if revoked is not None:
            raise InvalidToken("token revoked")
        if expires is not None and expires <= dt.datetime.now(dt.timezone.utc):
            raise InvalidToken("token expired")
        return frozenset(permissions)


class TokenCache:
    """``TokenStore.permissions`` remembered for ``ttl`` seconds, answers and refusals alike,
    so a busy API asks Postgres about a token at most once per ``ttl`` (which is also the
    longest a revoked token keeps working)."""

    def __init__(self, store: TokenStore, ttl: float, max_entries: int = 10_000):
        self.store = store
        self.cache = TtlCache(ttl, max_entries)

    def _lookup(self, token: str) -> frozenset[str] | InvalidToken:
        try:
            return self.store.permissions(token)
        except InvalidToken as error:
            return error

    def permissions(self, token: str) -> frozenset[str]:
        answer = self.cache.get_or_compute(token_hash(token), lambda: self._lookup(token))
        if isinstance(answer, InvalidToken):
            raise InvalidToken(str(answer))
        return answer
