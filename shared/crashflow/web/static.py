"""The UI's stylesheet, scripts and icon, served by the query function itself (no CDN: a
machine without internet gets the same pages).

Each file's URL carries a hash of its content (``/assets/app.css?v=1a2b3c4d5e6f``), so a
browser may keep it for a year and still never runs an old script with a new page.
Libraries from npm (``package.json``) are copied into ``static/vendor/`` by
``infra/local/webassets.sh`` (``make up`` / ``make test``).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from pathlib import Path

from crashflow.api.calls import Reply

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml"}
ASSETS = "/assets/"  # the URL prefix
FOREVER = "public, max-age=31536000, immutable"


class StaticFiles:
    """Every file under ``static/``, read once."""

    def __init__(self, root: Path = STATIC_DIR):
        self.files: dict[str, tuple[bytes, str, str]] = {}  # name -> (content, type, version)
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                content = path.read_bytes()
                content_type = CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
                name = path.relative_to(root).as_posix()
                self.files[name] = (content, content_type, hashlib.sha256(content).hexdigest()[:12])
        if "vendor/uplot.js" not in self.files:
            log.warning("static/vendor/ is empty: run infra/local/webassets.sh install (make up does); "
                        "pages work, charts do not")

    def url(self, name: str) -> str:
        entry = self.files.get(name)
        return f"{ASSETS}{name}?v={entry[2]}" if entry else f"{ASSETS}{name}"

    def reply(self, name: str, version: str | None) -> Reply | None:
        """The file (None when there is no such file). Kept for a year when asked for by
        its current version, revalidated otherwise."""
        entry = self.files.get(name)
        if entry is None:
            return None
        content, content_type, current = entry
        caching = FOREVER if version == current else "no-cache"
        return Reply(200, content, {"Content-Type": content_type, "Cache-Control": caching, "ETag": f'"{current}"'})
