"""API tokens: what an ``Auth-Token`` header may do.

Tokens are random strings shown once, when created; Postgres keeps only their SHA-256, the
permissions they carry, and an optional expiry. The query function (protected data,
reprocessing) and the collect function (symbol upload) check them through ``TokenStore``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from crashflow.stores.interfaces import ReportRows
from crashflow.ttlcache import TtlCache

PERMISSIONS = (
    "view_pii",
    "view_rawdump",
    "reprocess_crashes",
    "run_custom_queries",
    "upload_symbols",
    "view_symbols",
)
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


class TokenStore:
    """Creates, revokes and checks API tokens in the ``api_tokens`` table."""

    def __init__(self, database: ReportRows):
        self.database = database

    def create(self, permissions, expires_days: float | None = None, note: str = "") -> str:
        """A new token with ``permissions``; the only time the token itself is known."""
        granted = check_permissions(permissions)
        token = secrets.token_hex(TOKEN_BYTES)
        expires = None
        if expires_days is not None:
            expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=expires_days)
        with self.database.connection() as connection:
            connection.run(
                "INSERT INTO api_tokens (token_hash, permissions, note, expires) "
                "VALUES (:hash, CAST(:permissions AS text[]), :note, :expires)",
                hash=token_hash(token), permissions=granted, note=note, expires=expires,
            )
        return token

    def revoke(self, token: str) -> bool:
        """Revoke ``token``; False when there was no such live token."""
        with self.database.connection() as connection:
            connection.run(
                "UPDATE api_tokens SET revoked = now() WHERE token_hash = :hash AND revoked IS NULL",
                hash=token_hash(token),
            )
            return connection.row_count > 0

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
