"""Request routing for the query function: path -> handler -> JSON answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests

from crashflow import __version__
from crashflow.api import supersearch
from crashflow.api.errors import ApiError, BadRequest, NotFound
from crashflow.crashids import InvalidCrashId, normalize_crash_id
from crashflow.reports import REPORT_COLUMNS
from crashflow.settings import Settings
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.stores.s3 import CrashNotFound, CrashStorage

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    body: dict | bytes
    headers: dict = field(default_factory=dict)


def crash_id_param(args) -> str:
    raw = args.get("crash_id")
    if not raw:
        raise BadRequest("crash_id is required")
    try:
        return normalize_crash_id(raw)
    except InvalidCrashId as error:
        raise BadRequest(str(error)) from None


class QueryApi:
    """The crash API; one per process, shared by request threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.crash_table = CrashTable(settings)
        self.database = Database(settings)
        self.storage = CrashStorage(settings)
        self.routes = {
            "/api/ProcessedCrash/": self.processed_crash,
            "/api/RawCrash/": self.raw_crash,
            "/api/SuperSearch/": self.super_search,
            "/api/SuperSearchFields/": self.super_search_fields,
            "/__heartbeat__": self.heartbeat,
            "/__lbheartbeat__": lambda request: Reply(200, {}),
            "/__version__": lambda request: Reply(200, {"version": __version__}),
        }

    def handle(self, request) -> Reply:
        """``request`` is a flask/werkzeug request."""
        path = request.path if request.path.endswith("/") or request.path.startswith("/__") else request.path + "/"
        handler = self.routes.get(path)
        if handler is None:
            return Reply(404, {"error": f"no such endpoint: {request.path}"})
        try:
            return handler(request)
        except ApiError as error:
            return Reply(error.status, {"error": str(error)})

    def processed_crash(self, request) -> Reply:
        crash_id = crash_id_param(request.args)
        processed = self.crash_table.get_processed_crash(crash_id)
        if processed is None:
            processed = self._process_now(crash_id)
            if processed is None:
                return Reply(202, {"status": "pending", "crash_id": crash_id,
                                   "error": "crash is being processed; ask again in a few seconds"})
        return Reply(200, processed)

    def _process_now(self, crash_id: str) -> dict | None:
        """Priority processing: the crash is stored but not processed yet."""
        try:
            self.storage.load_raw_crash(crash_id)
        except CrashNotFound:
            raise NotFound(f"crash {crash_id} not found") from None
        try:
            answer = requests.post(
                f"{self.settings.process_base_url}/process", params={"crash_id": crash_id}, timeout=20
            )
        except requests.RequestException:
            log.warning("process function unreachable for %s", crash_id, exc_info=True)
            return None
        return answer.json().get("processed") if answer.ok else None

    def raw_crash(self, request) -> Reply:
        crash_id = crash_id_param(request.args)
        raw = self.crash_table.get_raw_crash(crash_id)
        if raw is None:
            try:
                raw = self.storage.load_raw_crash(crash_id)
            except CrashNotFound:
                raise NotFound(f"crash {crash_id} not found") from None
        return Reply(200, raw)

    def super_search(self, request) -> Reply:
        query = supersearch.parse_query(request.args)
        with self.database.connection() as connection:
            return Reply(200, supersearch.search(connection, query))

    def super_search_fields(self, request) -> Reply:
        fields = {}
        for column, kind in REPORT_COLUMNS.items():
            fields[column] = {"name": column, "in_database_name": column, "query_type": kind,
                              "is_returned": True, "namespace": "processed_crash"}
        for alias, column in supersearch.ALIASES.items():
            fields[alias] = {**fields[column], "name": alias}
        return Reply(200, fields)

    def heartbeat(self, request) -> Reply:
        checks = {
            "hbase": self.crash_table.is_healthy(),
            "postgres": self.database.is_healthy(),
            "s3": self.storage.is_healthy(),
        }
        return Reply(200 if all(checks.values()) else 503, checks)
