"""The browser session: a signed, HttpOnly, ``SameSite=Strict`` cookie holding the API token
a user signed in with, the CSRF token of their forms, and a one-time notice.

The cookie is signed (itsdangerous, as Flask's sessions are) so it cannot be altered; the
token in it is checked on every request like an ``Auth-Token`` header, so revoking the
token ends the session. The signing key is ``CRASHFLOW_WEB_SECRET_KEY``, or else one random
key kept in Postgres (``web_secrets``), so that every instance of the query function signs
alike without configuration.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

COOKIE_NAME = "crashflow_session"
CSRF_FIELD = "csrf_token"
SALT = "crashflow-session"
SECRET_NAME = "session"


@dataclass
class Session:
    token: str | None = None
    csrf: str | None = None
    notice: str | None = None
    changed: bool = field(default=False, compare=False)

    def csrf_token(self) -> str:
        """The CSRF token forms carry; made (and the cookie written) on first need."""
        if self.csrf is None:
            self.csrf = secrets.token_urlsafe(32)
            self.changed = True
        return self.csrf

    def csrf_matches(self, sent: str | None) -> bool:
        return bool(self.csrf and sent) and hmac.compare_digest(self.csrf.encode(), sent.encode())

    def sign_in(self, token: str) -> None:
        """A new CSRF token too: one seen before signing in is no good after."""
        self.token, self.csrf, self.changed = token, secrets.token_urlsafe(32), True

    def sign_out(self) -> None:
        self.token, self.csrf, self.changed = None, secrets.token_urlsafe(32), True

    def flash(self, notice: str) -> None:
        """A notice for the next page this browser shows."""
        self.notice, self.changed = notice, True

    def take_notice(self) -> str | None:
        notice = self.notice
        if notice is not None:
            self.notice, self.changed = None, True
        return notice

    @property
    def is_empty(self) -> bool:
        return self.token is None and self.csrf is None and self.notice is None


def stored_secret(database) -> str:
    """The signing key kept in Postgres: made by the first instance that needs it."""
    with database.connection() as connection:
        connection.run(
            "INSERT INTO web_secrets (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING",
            name=SECRET_NAME, value=secrets.token_urlsafe(48),
        )
        return connection.run("SELECT value FROM web_secrets WHERE name = :name", name=SECRET_NAME)[0][0]


class SessionCookies:
    """Reads and writes the session cookie; ``secret`` is called once, on first need."""

    def __init__(self, secret, max_age_seconds: int):
        self._secret = secret
        self._serializer: URLSafeTimedSerializer | None = None
        self.max_age = max_age_seconds

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        if self._serializer is None:
            self._serializer = URLSafeTimedSerializer(self._secret(), salt=SALT)
        return self._serializer

    def load(self, request) -> Session:
        """The request's session; an empty one when it has none, or one that is altered
        or older than the maximum age."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return Session()
        try:
            data = self.serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one too
            return Session(changed=True)  # the cookie goes
        if not isinstance(data, dict):
            return Session(changed=True)
        return Session(token=data.get("t"), csrf=data.get("c"), notice=data.get("n"))

    def header(self, session: Session, secure: bool) -> str:
        """The ``Set-Cookie`` header value that stores ``session`` (or removes it when empty)."""
        options = dict(path="/", httponly=True, samesite="Strict", secure=secure)
        if session.is_empty:
            return dump_cookie(COOKIE_NAME, "", max_age=0, **options)
        data = {key: value for key, value in (("t", session.token), ("c", session.csrf), ("n", session.notice))
                if value is not None}
        return dump_cookie(COOKIE_NAME, self.serializer.dumps(data), max_age=self.max_age, **options)
