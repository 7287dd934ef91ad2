"""A loopback HTTP symbol server in front of the symbols bucket.

minidump-stackwalk fetches ``<url>/<debug_file>/<DEBUG_ID>/<name>.sym`` lazily, for exactly
the modules a dump needs; this server answers those requests from S3 with crashflow's own
credentials, so the bucket never has to be public.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from botocore.exceptions import ClientError

from crashflow.settings import Settings
from crashflow.stores.s3 import client

log = logging.getLogger(__name__)


FRESH_PREFIX = "fresh/"


class MissingSymbols:
    """Symbol keys the bucket did not have, remembered for ``ttl`` seconds: the stackwalker
    asks for every module without symbols on every crash, and each miss would cost an S3
    round trip."""

    def __init__(self, ttl: float, max_entries: int = 100_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        until = self._until.get(key)
        return until is not None and until > time.monotonic()

    def add(self, key: str) -> None:
        with self._lock:
            if len(self._until) >= self.max_entries:
                now = time.monotonic()
                self._until = {k: v for k, v in self._until.items() if v > now}
                if len(self._until) >= self.max_entries:
                    self._until.clear()
            self._until[key] = time.monotonic() + self.ttl

    def discard(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)


class SymbolServer:
    """Serves the symbols bucket on 127.0.0.1 on a free port, in a daemon thread.

    ``url`` remembers misses for ``settings.symbols_missing_ttl`` seconds; ``fresh_url``
    always asks the bucket (reprocessing: the symbols may just have been uploaded)."""

    def __init__(self, settings: Settings):
        s3 = client(settings, "s3")
        bucket = settings.symbols_bucket
        missing = self.missing = MissingSymbols(settings.symbols_missing_ttl)

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive: the stackwalker asks for every module of a dump over one connection.
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                key = self.path.lstrip("/").split("?", 1)[0]
                fresh = key.startswith(FRESH_PREFIX)
                key = key.removeprefix(FRESH_PREFIX)
                if ".." in key.split("/"):
                    self.send_error(400)
                    return
                if not fresh and key in missing:
                    self.send_error(404)
                    return
                try:
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                        missing.add(key)
                        self.send_error(404)
                    else:  # not known to be missing: don't remember it
                        log.warning("symbols bucket error for %s: %s", key, error)
                        self.send_error(502)
                    return
                missing.discard(key)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # noqa: A002
                log.debug("symbols: " + format, *args)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="symbol-server")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    @property
    def fresh_url(self) -> str:
        return self.url + FRESH_PREFIX


class SymbolCache:
    """minidump-stackwalk's on-disk symbol cache, kept under ``max_bytes``."""

    def __init__(self, directory: Path, max_bytes: int, interval_seconds: float = 60):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.interval = interval_seconds
        self._next_prune = 0.0
        self._lock = threading.Lock()

    def prune_if_due(self) -> int:
        """Prune when the last prune is older than the interval; walking the tree on every
        crash would cost more than the stackwalk."""
        with self._lock:
            if time.monotonic() < self._next_prune:
                return 0
            self._next_prune = time.monotonic() + self.interval
        return prune_cache(self.directory, self.max_bytes)


def prune_cache(directory: Path, max_bytes: int) -> int:
    """Delete the least recently used files until the cache fits ``max_bytes``; return bytes freed."""
    if not Path(directory).is_dir():
        return 0
    files = [path for path in Path(directory).rglob("*") if path.is_file()]
    stats = {path: path.stat() for path in files}
    total = sum(stat.st_size for stat in stats.values())
    freed = 0
    for path in sorted(files, key=lambda p: stats[p].st_atime):
        if total - freed <= max_bytes:
            break
        path.unlink(missing_ok=True)
        freed += stats[path].st_size
    return freed
