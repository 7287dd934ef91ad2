"""The query function's API: routing, the token and rate-limit gate, JSON errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crashflow.api import aggregates, alerts, crashes, fields, reprocessing, search, signatures
from crashflow.api.auth import Gatekeeper
from crashflow.api.calls import Call, Reply, refuse_nul_bytes
from crashflow.api.errors import OUTAGE_RETRY_AFTER_SECONDS, ApiError, MethodNotAllowed, TooManyRequests
from crashflow.api.priority import PriorityProcessing
from crashflow.fields import FieldDefinitions
from crashflow.settings import Settings
from crashflow.stores.errors import QueryFailed, StoreUnavailable
from crashflow.stores.factory import Stores
from crashflow.tokens import TokenCache, TokenStore
from crashflow.ttlcache import TtlCache
from crashflow.web import pages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    handler: object  # (services, Call) -> Reply
    methods: tuple[str, ...] = ("GET",)


ROUTES = {
    "/api/ProcessedCrash/": Route(crashes.processed_crash),
    "/api/RawCrash/": Route(crashes.raw_crash),
    "/api/SuperSearch/": Route(search.super_search),
    "/api/SuperSearchFields/": Route(fields.super_search_fields),
    "/api/Reprocessing/": Route(reprocessing.reprocessing, ("POST",)),
    "/api/CrashSignature/": Route(signatures.crash_signature, ("POST",)),
    "/api/Bugs/": Route(signatures.bugs),
    "/api/SignaturesByBugs/": Route(signatures.signatures_by_bugs),
    "/api/SignatureFirstDate/": Route(signatures.signature_first_date),
    "/api/TopCrashers/": Route(aggregates.top_crashers),
    "/api/CrashesPerDay/": Route(aggregates.crashes_per_day),
    "/api/AggregationJobs/": Route(aggregates.aggregation_jobs),
    "/api/Alerts/": Route(alerts.alerts),
    # The web UI's pages.
    "/search/": Route(pages.search_page),
    "/signature/": Route(pages.signature_page),
    "/topcrashers/": Route(pages.top_crashers_page),
}
REPORT_PAGE = "/report/index/"


def endpoint_label(path: str) -> str | None:
    """The route that serves ``path`` (``/report/index/`` for every report page), or None."""
    if path.startswith(REPORT_PAGE):
        return REPORT_PAGE
    route = path if path.endswith("/") else path + "/"
    return route if route in ROUTES else None


class Services:
    """The stores and helpers the endpoints use; one set per process, shared by threads."""

    def __init__(self, settings: Settings, stores: Stores | None = None):
        self.settings = settings
        self.stores = stores or Stores.from_settings(settings, "query")
        self.database = self.stores.reports
        self.crashes = self.stores.crashes
        self.queues = self.stores.queues
        self.fields = FieldDefinitions.from_settings(settings)
        self.priority = PriorityProcessing(settings, self.queues)
        self.tokens = TokenCache(TokenStore(self.database), settings.api_token_cache_seconds)
        self.aggregates_cache = TtlCache(settings.api_aggregates_cache_seconds)


class QueryApi:
    """The crash API; one per process, shared by request threads."""

    def __init__(self, settings: Settings):
        self.services = Services(settings)
        self.gate = Gatekeeper(settings, self.services.tokens)

    def handle(self, request) -> Reply:
        """``request`` is a flask/werkzeug request."""
        path = request.path
        if path.startswith("/__"):
            return self.health(path)
        if path.startswith(REPORT_PAGE):
            crash_id = path[len(REPORT_PAGE):].strip("/")
            route = Route(lambda services, call: pages.report(services, call, crash_id))
        else:
            route = ROUTES.get(path if path.endswith("/") else path + "/")
        if route is None:
            return Reply(404, {"error": f"no such endpoint: {path[:200]}"})
        try:
            if request.method not in route.methods:
                raise MethodNotAllowed(f"{path} takes {', '.join(route.methods)}")
            refuse_nul_bytes(request.args, request.form)
            call = Call(request, self.gate.admit(request))
            return route.handler(self.services, call)
        except TooManyRequests as error:
            return Reply(error.status, {"error": str(error)}, {"Retry-After": str(error.retry_after)})
        except ApiError as error:
            return Reply(error.status, {"error": str(error)})
        except StoreUnavailable as error:
            log.warning("%s %s: a store is unreachable (%s)", request.method, path, error)
            return Reply(503, {"error": "a store is unreachable; try again shortly"},
                         {"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)})
        except QueryFailed as error:
            if error.is_bad_value:
                return Reply(400, {"error": f"bad value: {error.message[:200]}"})
            log.exception("%s %s failed", request.method, path)
            return Reply(500, {"error": "internal error (the query function's log has the details)"})
        except Exception:
            log.exception("%s %s failed", request.method, path)
            return Reply(500, {"error": "internal error (the query function's log has the details)"})

    def health(self, path: str) -> Reply:
        """``/__heartbeat__``: can every store be reached? (``/__lbheartbeat__`` and
        ``/__version__`` are answered by the function itself, as collect does.)"""
        if path == "/__heartbeat__":
            checks = self.services.stores.health("hbase", "postgres", "s3", "sqs")
            return Reply(200 if all(checks.values()) else 503, checks)
        return Reply(404, {"error": f"no such endpoint: {path[:200]}"})

