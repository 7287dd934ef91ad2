"""Breakpad's sym-upload-v2 protocol: ``sym_upload -p sym-upload-v2 -k KEY FILE URL``.

With ``URL`` = ``http://<collect>/symbols`` the tool makes these calls, each with ``?key=``
(an API token with ``upload_symbols``):

1. ``GET  /v1/symbols/<debug_file>/<debug_id>:checkStatus`` -> ``{"status": "FOUND"|"MISSING"}``
   (FOUND ends the upload, unless the tool was given ``-f``);
2. ``POST /v1/uploads:create`` -> ``{"uploadUrl": ..., "uploadKey": ...}``;
3. ``PUT`` of the file to ``uploadUrl``, which must answer 200;
4. ``POST /v1/uploads/<uploadKey>:complete`` with a body that is not strict JSON,
   ``{ symbol_id: {debug_file: "...", debug_id: "..." }, symbol_upload_type: "BREAKPAD" }``
   -> ``{"result": "OK"|"DUPLICATE_DATA"}``.

The tool reads every answer with regular expressions such as ``"status": "([^"]+)"``:
the answers are JSON written with exactly one space after each colon.

The upload URL is crashflow's own (``/v1/uploads/<uploadKey>?key=``), not a presigned S3
URL: the tool PUTs with chunked transfer encoding, which S3 refuses. The file waits in the
symbols bucket's staging prefix until ``complete`` checks its MODULE line against the
symbol id and moves it to its place in the symbol server layout.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from crashflow.collector.symbols_upload import (
    MODULE_LINE_BYTES,
    SymbolModule,
    SymbolStoreUnavailable,
    SymbolUploader,
    SymbolUploadRefused,
    check_module_names,
    compact_debug_id,
    parse_module_line,
)
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.layout import staged_symbol_key, symbol_key

UPLOAD_KEY_BYTES = 24
UPLOAD_KEY_RE = re.compile(r"[A-Za-z0-9_-]{32}")
BREAKPAD_TYPE = "BREAKPAD"
# What a staged upload is written through before S3: small files stay in memory.
SPOOL_BYTES = 8 * 1024 * 1024
# The complete call's body, quoted or not, snake_case (the tool) or camelCase (the
# protocol's documented curl example).
BODY_FIELDS = {
    "debug_file": re.compile(r'"?debug_?file"?\s*:\s*"([^"]*)"', re.IGNORECASE),
    "debug_id": re.compile(r'"?debug_?id"?\s*:\s*"([^"]*)"', re.IGNORECASE),
    "upload_type": re.compile(r'"?symbol_?upload_?type"?\s*:\s*"([^"]*)"', re.IGNORECASE),
}


class UploadNotFound(LookupError):
    """No file was PUT for this upload key (or it was completed already)."""


class UploadTooLarge(SymbolUploadRefused):
    """The PUT body is over the symbol upload limit."""


def answer(**fields: str) -> str:
    """A JSON object as the tool's regular expressions read it: ``"name": "value"``."""
    return json.dumps(fields, separators=(", ", ": "))


@dataclass(frozen=True)
class SymbolId:
    debug_file: str
    debug_id: str
    upload_type: str = BREAKPAD_TYPE


def parse_complete_body(body: bytes) -> SymbolId:
    """The symbol id of a complete call, from what the tool sends (not strict JSON)."""
    text = body.decode("utf-8", errors="replace")
    found = {name: pattern.search(text) for name, pattern in BODY_FIELDS.items()}
    if not found["debug_file"] or not found["debug_id"]:
        raise SymbolUploadRefused("the body names no symbol_id {debug_file, debug_id}")
    upload_type = found["upload_type"].group(1).upper() if found["upload_type"] else BREAKPAD_TYPE
    return SymbolId(found["debug_file"].group(1), found["debug_id"].group(1), upload_type)


class SymUploadV2:
    """The protocol's calls; the token is checked by each (``SymbolUploader.check_token``)."""

    def __init__(self, uploader: SymbolUploader):
        self.uploader = uploader
        self.storage = uploader.storage

    def check_status(self, debug_file: str, debug_id: str) -> str:
        check_module_names(debug_file, debug_id, "checkStatus")
        found = self._store_call(lambda: self.storage.exists(symbol_key(debug_file, debug_id)))
        return "FOUND" if found else "MISSING"

    def create(self) -> str:
        """A new upload key (random: it names the staged file)."""
        return secrets.token_urlsafe(UPLOAD_KEY_BYTES)

    def receive(self, upload_key: str, chunks: Iterable[bytes]) -> int:
        """Stage the PUT body for ``upload_key``; its size. Refused over the upload limit."""
        staged = self._staged_key(upload_key)
        limit = self.uploader.max_upload_bytes
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"the symbol file is over the {limit}-byte limit")
                digest.update(chunk)
                spool.write(chunk)
            if not size:
                raise SymbolUploadRefused("the symbol file is empty")
            spool.seek(0)
            self._store_call(lambda: self.storage.save(staged, spool, digest.hexdigest()))
        return size

    def complete(self, upload_key: str, body: bytes) -> tuple[str, SymbolModule]:
        """Move the staged file to its place: ``OK``, or ``DUPLICATE_DATA`` when the same
        bytes were there already. The MODULE line must name the body's symbol id."""
        staged = self._staged_key(upload_key)
        symbol_id = parse_complete_body(body)
        if symbol_id.upload_type != BREAKPAD_TYPE:
            raise SymbolUploadRefused(f"only {BREAKPAD_TYPE} symbol files are taken, not {symbol_id.upload_type}")
        head = self._store_call(lambda: self.storage.read_head(staged, MODULE_LINE_BYTES))
        if head is None:
            raise UploadNotFound(f"nothing was uploaded for upload key {upload_key}, or it was completed already")
        module = parse_module_line(head, "the uploaded file")
        if module.debug_file != symbol_id.debug_file or compact_debug_id(module.debug_id) != compact_debug_id(symbol_id.debug_id):
            raise SymbolUploadRefused(
                f"the uploaded file's MODULE line is for {module.debug_file} {module.debug_id}, "
                f"not {symbol_id.debug_file} {symbol_id.debug_id}"
            )

        def place() -> str:
            if self.storage.sha256(module.key) == self.storage.sha256(staged):
                return "DUPLICATE_DATA"
            self.storage.copy(staged, module.key)
            return "OK"

        result = self._store_call(place)
        # Recorded (after DUPLICATE_DATA too: the same bytes may come from an upload whose
        # recording failed) before the staged file goes, so that a complete call answered
        # 503 here can be sent again.
        self.uploader.symbols_stored([module.key])
        self._store_call(lambda: self.storage.delete(staged))
        return result, module

    def _staged_key(self, upload_key: str) -> str:
        if not UPLOAD_KEY_RE.fullmatch(upload_key):
            raise UploadNotFound(f"{upload_key[:40]!r} is not an upload key")
        return staged_symbol_key(upload_key)

    @staticmethod
    def _store_call(call):
        try:
            return call()
        except StoreUnavailable as error:
            raise SymbolStoreUnavailable(f"the symbols bucket is unavailable: {error}") from error
