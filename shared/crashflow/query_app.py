"""The query function's web application: the crash API and the web UI on one werkzeug
routing map, the token and rate-limit gate, sessions, errors (JSON for the API, pages in
the UI's look for browsers) and the security headers every answer carries.

A route is one line in ``API_ROUTES`` or ``PAGE_ROUTES``: an API endpoint is called as
``handler(services, call, **url_values)``, a page as ``handler(page, **url_values)``;
both give back a ``Reply``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass

import werkzeug.exceptions
from werkzeug.datastructures import Headers
from werkzeug.routing import Map, RequestRedirect, Rule

from crashflow.api import (
    aggregates, alerts, correlations, crashes, fields, overview, reprocessing, search, signatures, symbols,
)
from crashflow.api.answers import one_look_at_the_runs
from crashflow.api.app import Services
from crashflow.api.auth import TOKEN_HEADER, Gatekeeper
from crashflow.api.calls import Call, Reply, refuse_nul_bytes
from crashflow.api.errors import OUTAGE_RETRY_AFTER_SECONDS, ApiError, Forbidden, TooManyRequests
from crashflow.settings import Settings
from crashflow.stores.errors import QueryFailed, StoreUnavailable
from crashflow.web import overview as overview_pages
from crashflow.web import documentation, report, search_page, signature, signin, tokens_page, topcrashers
from crashflow.web.page import Page
from crashflow.web.session import CSRF_FIELD, SessionCookies, stored_secret
from crashflow.web.static import ASSETS, StaticFiles

log = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD")
# Every answer: no inline script or style, no framing, no MIME sniffing, no referrer
# beyond this site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
# Pages depend on who asks: never kept by a shared cache.
PAGE_CACHING = {"Cache-Control": "private, no-cache", "Vary": "Cookie"}
# The longest address a redirect goes to. A redirect repeats the request's query, and a
# longer Location header is past what proxies (8 KiB header buffers) and clients (Python's
# http.client: 64 KiB a header line) read: the client would get no answer it can use.
MAX_REDIRECT_LENGTH = 8192


@dataclass(frozen=True)
class Route:
    path: str  # werkzeug rule: "/report/index/<crash_id>"
    handler: Callable[..., Reply]
    methods: tuple[str, ...] = ("GET",)
    page: bool = False  # a UI page: the session's permissions, CSRF checks, HTML errors


def api(path: str, handler, *methods: str) -> Route:
    return Route(path, handler, methods or ("GET",))


def page(path: str, handler, *methods: str) -> Route:
    return Route(path, handler, methods or ("GET",), page=True)


def health(services, call: Call) -> Reply:
    """``/__heartbeat__``: can every store be reached? (``/__lbheartbeat__`` and
    ``/__version__`` are answered by the function itself, as collect does.)"""
    checks = services.stores.health("hbase", "postgres", "s3", "sqs")
    return Reply(200 if all(checks.values()) else 503, checks)


API_ROUTES = [
    api("/api/ProcessedCrash/", crashes.processed_crash),
    api("/api/RawCrash/", crashes.raw_crash),
    api("/api/SuperSearch/", search.super_search),
    api("/api/SuperSearchFields/", fields.super_search_fields),
    api("/api/Reprocessing/", reprocessing.reprocessing, "POST"),
    api("/api/CrashSignature/", signatures.crash_signature, "POST"),
    api("/api/Bugs/", signatures.bugs),
    api("/api/SignaturesByBugs/", signatures.signatures_by_bugs),
    api("/api/SignatureFirstDate/", signatures.signature_first_date),
    api("/api/Correlations/", correlations.correlations),
    api("/api/TopCrashers/", aggregates.top_crashers),
    api("/api/CrashesPerDay/", aggregates.crashes_per_day),
    api("/api/AggregationJobs/", aggregates.aggregation_jobs),
    api("/api/Products/", overview.products),
    api("/api/NewSignatures/", overview.new_signatures),
    api("/api/ExplosiveSignatures/", overview.explosive_signatures),
    api("/api/Regressions/", overview.regressions),
    api("/api/Alerts/", alerts.alerts),
    api("/api/MissingSymbols/", symbols.missing_symbols),
    api("/__heartbeat__", health),
    # The symbol server: minidump-stackwalk's --symbols-url, Breakpad's processor, debuggers.
    api("/symbols/<debug_file>/<debug_id>/<name>", symbols.symbol_file, "GET", "HEAD"),
]
PAGE_ROUTES = [
    page("/", overview_pages.home_page),
    page("/home/product/<product>", overview_pages.product_home_page),
    page("/login/", signin.login_page, "GET", "POST"),
    page("/logout/", signin.logout_page, "POST"),
    page("/report/index/<crash_id>", report.report_page),
    page("/report/reprocess/<crash_id>", report.reprocess, "POST"),
    page("/search/", search_page.search_page),
    page("/search/results.csv", search_page.search_csv),
    page("/signature/", signature.signature_page),
    page("/topcrashers/", topcrashers.top_crashers_page),
    page("/tokens/", tokens_page.tokens_page, "GET", "POST"),
    page("/documentation/", documentation.documentation_page),
    page("/documentation/api/<name>", documentation.endpoint_page),
    page("/documentation/datadictionary/", documentation.data_dictionary_page),
    page("/tokens/revoke/<int:token_id>", tokens_page.revoke_token, "POST"),
]


URL_MAP = Map(
    [
        *[Rule(route.path, endpoint=route, methods=list(route.methods)) for route in API_ROUTES + PAGE_ROUTES],
        # Not /static/: functions-framework's Flask app answers that path itself.
        Rule(f"{ASSETS}<path:name>", endpoint="static"),
    ],
    # strict_slashes off: "/api/SuperSearch" and "/api/SuperSearch/" are one endpoint,
    # answered without a redirect (a POST must not turn into a GET).
    strict_slashes=False,
)


def error_answer(error: Exception, request) -> tuple[int, str, dict]:
    """(status, message, headers) for what a handler raised."""
    if isinstance(error, TooManyRequests):
        return error.status, str(error), {"Retry-After": str(error.retry_after)}
    if isinstance(error, ApiError):
        return error.status, str(error), {}
    if isinstance(error, StoreUnavailable):
        log.warning("%s %s: a store is unreachable (%s)", request.method, request.path, error)
        return 503, "a store is unreachable; try again shortly", {"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)}
    if isinstance(error, QueryFailed) and error.is_bad_value:
        return 400, f"bad value: {error.message[:200]}", {}
    log.exception("%s %s failed", request.method, request.path)
    return 500, "internal error (the query function's log has the details)", {}


def wants_html(request) -> bool:
    """A browser (HTML before JSON in Accept) asking for something that is not the API."""
    if request.path.startswith("/api/"):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def is_https(request, trust_forwarded: bool) -> bool:
    if trust_forwarded:
        return request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[-1].strip() == "https"
    return request.scheme == "https"


class QueryApp:
    """The query function's application; one per process, shared by request threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.services = Services(settings)
        self.gate = Gatekeeper(settings, self.services.tokens)
        self.sessions = SessionCookies(
            lambda: settings.web_secret_key or stored_secret(self.services.database),
            int(settings.web_session_hours * 3600),
        )
        self.static = StaticFiles()

    def respond(self, request) -> Reply:
        """The answer to ``request`` (a flask/werkzeug request), security headers included."""
        reply = self.dispatch(request)
        location = Headers(reply.headers).get("Location", "")
        if len(location) > MAX_REDIRECT_LENGTH:
            reply = self.refuse(request, 414, f"this address is too long to redirect to ({len(location)} characters; "
                                              f"at most {MAX_REDIRECT_LENGTH}): shorten its query")
        headers = Headers(reply.headers)
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if isinstance(reply.body, bytes):
            headers.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(reply.body, str):
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        reply.headers = headers
        return reply

    def dispatch(self, request) -> Reply:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except werkzeug.exceptions.MethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or []))
            return self.refuse(request, 405, f"{request.path[:200]} takes {allowed}", {"Allow": allowed})
        except werkzeug.exceptions.NotFound:
            return self.refuse(request, 404, f"no such page or endpoint: {request.path[:200]}")
        except RequestRedirect as redirect:  # a path with "//" in it, merged
            return Reply(redirect.code, "", {"Location": redirect.new_url})
        if endpoint == "static":
            return self.static_file(request, values["name"])
        if endpoint.page:
            return self.page(request, endpoint, values)
        return self.endpoint(request, endpoint, values)

    def refuse(self, request, status: int, message: str, headers: dict | None = None) -> Reply:
        """An error before any handler ran: a page for a browser, JSON for the API."""
        if wants_html(request):
            return self.page(request, None, {}, refusal=(status, message, headers or {}))
        return Reply(status, {"error": message}, headers or {})

    def static_file(self, request, name: str) -> Reply:
        reply = self.static.reply(name, request.args.get("v"))
        return reply or self.refuse(request, 404, f"no such file: {name[:200]}")

    # -- the API

    def endpoint(self, request, route: Route, values: dict) -> Reply:
        try:
            refuse_nul_bytes(request.args, request.form)
            call = Call(request, self.api_permissions(request))
            return route.handler(self.services, call, **values)
        except Exception as error:
            status, message, headers = error_answer(error, request)
            return Reply(status, {"error": message}, headers)

    def api_permissions(self, request) -> frozenset[str]:
        """The ``Auth-Token`` header's permissions; without one, a GET from a signed-in
        browser (a page's API link, a download) gets its session's. The session never
        authorizes a change: those need the header, which another site cannot send."""
        if request.headers.get(TOKEN_HEADER, "").strip() or request.method not in SAFE_METHODS:
            return self.gate.admit(request)
        token = self.sessions.load(request).token if request.cookies else None
        try:
            return self.gate.admit(request, token=token or "")
        except Forbidden:  # a session whose token went: as if signed out
            return frozenset()

    # -- the UI

    def page(self, request, route: Route | None, values: dict, refusal: tuple | None = None) -> Reply:
        session = self.sessions.load(request)
        ui = None
        try:
            ui = Page(self, request, session, self.page_permissions(request, session))
            if refusal is not None:
                reply = ui.error(*refusal)
            elif request.method not in SAFE_METHODS and not session.csrf_matches(request.form.get(CSRF_FIELD)):
                reply = ui.error(403, "This form has expired or came from another site. Reload the page and try again.")
            else:
                refuse_nul_bytes(request.args, request.form)
                with one_look_at_the_runs():  # every list of the page from the same runs
                    reply = route.handler(ui, **values)
        except Exception as error:
            status, message, headers = error_answer(error, request)
            try:
                reply = (ui or Page(self, request, session, frozenset())).error(status, message, headers)
            except Exception:  # the error page itself failed: plain words still reach the user
                log.exception("%s %s: the error page failed", request.method, request.path)
                reply = Reply(status, f"<!doctype html><title>{status}</title><p>{html.escape(message)}</p>", headers)
        headers = Headers(reply.headers)
        for name, value in PAGE_CACHING.items():
            headers.setdefault(name, value)
        if session.changed:
            headers.add("Set-Cookie", self.sessions.header(session, is_https(request, self.settings.api_trust_forwarded_for)))
        reply.headers = headers
        return reply

    def page_permissions(self, request, session) -> frozenset[str]:
        """The permissions of the token the user signed in with (or of an ``Auth-Token``
        header, as the API takes it: a script may read pages too); a signed-in token that
        was revoked or expired signs the user out, with a notice saying so."""
        if request.headers.get(TOKEN_HEADER, "").strip():
            return self.gate.admit(request)
        if session.token is None:
            return self.gate.admit(request, token="")
        try:
            return self.gate.admit(request, token=session.token)
        except Forbidden:
            session.sign_out()
            session.flash("You were signed out: your token was revoked or has expired. Sign in with another one.")
            return frozenset()


def endpoint_label(path: str) -> str | None:
    """The route that serves ``path``, as the request metrics name it: its rule
    (``/report/index/<crash_id>``, ``/assets/``), whatever the method; None for no route."""
    adapter = URL_MAP.bind("localhost")
    try:
        try:
            endpoint, _ = adapter.match(path)
        except werkzeug.exceptions.MethodNotAllowed as error:
            endpoint, _ = adapter.match(path, method=sorted(error.valid_methods)[0])
    except (werkzeug.exceptions.NotFound, RequestRedirect):
        # A path the map answers with a redirect (say, "//" in it, merged) is labelled as
        # no route: raising here, after the answer, would turn it into a 500.
        return None
    return ASSETS if endpoint == "static" else endpoint.path
