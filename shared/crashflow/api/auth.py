"""Who is calling: the ``Auth-Token`` header's permissions, and the rate limit that applies."""

from __future__ import annotations

from crashflow.api.errors import Forbidden, TooManyRequests
from crashflow.api.ratelimit import RateLimiter, retry_after_seconds
from crashflow.settings import Settings
from crashflow.tokens import InvalidToken, TokenCache, token_hash

TOKEN_HEADER = "Auth-Token"


def client_address(request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]  # the entry our own proxy added; earlier ones are the client's word
    return request.remote_addr or "unknown"


class Gatekeeper:
    """Checks a request's token and rate limit; answers its permissions."""

    def __init__(self, settings: Settings, tokens: TokenCache):
        self.tokens = tokens
        self.trust_forwarded_for = settings.api_trust_forwarded_for
        self.per_address = RateLimiter(settings.api_rate_limit_per_minute)
        self.per_token = RateLimiter(settings.api_token_rate_limit_per_minute)

    def admit(self, request, token: str | None = None) -> frozenset[str]:
        """The caller's permissions: those of ``token`` (by default the ``Auth-Token``
        header's); Forbidden for a bad token, TooManyRequests over the limit. A bad token
        counts against its address, so guessing tokens is rate limited too."""
        if token is None:
            token = request.headers.get(TOKEN_HEADER, "")
        token = token.strip()
        permissions, refusal = frozenset(), None
        if token:
            try:
                permissions = self.tokens.permissions(token)
            except InvalidToken as error:
                refusal = Forbidden(f"bad Auth-Token: {error}")
        if token and refusal is None:
            wait = self.per_token.acquire(token_hash(token))
        else:
            wait = self.per_address.acquire(client_address(request, self.trust_forwarded_for))
        if wait:
            raise TooManyRequests("too many requests; slow down", retry_after_seconds(wait))
        if refusal is not None:
            raise refusal
        return permissions
