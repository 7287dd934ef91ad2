"""Symbol upload: Breakpad ``.sym`` files into the symbols bucket, where process finds them.

``POST /symbols/upload`` takes
- a zip of ``<debug_file>/<DEBUG_ID>/<name>.sym`` files (the layout of Mozilla's symbol
  server), or one ``.sym`` file whose MODULE line says where it goes (answered with 201);
- Breakpad's ``sym_upload`` (v1): the file part ``symbol_file`` with the form fields
  ``code_file``, ``cpu``, ``debug_file``, ``debug_identifier`` and ``os``, which must agree
  with the MODULE line (answered with 200, the only success that tool knows).
Every file's MODULE line must agree with its path; nothing is stored unless the whole upload
is valid. Members are streamed from the archive to S3, never all held in memory. The
sym-upload-v2 protocol lives in ``symbols_v2``.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import IO

from werkzeug.exceptions import RequestEntityTooLarge

from crashflow.late_symbols import ReprocessingNotQueued, SymbolsArrived
from crashflow.settings import Settings
from crashflow.stores.errors import StoreUnavailable
from crashflow.stores.factory import Stores
from crashflow.stores.layout import MAX_DEBUG_FILE_LENGTH, symbol_key
from crashflow.tokens import InvalidToken, TokenStore

MODULE_LINE_BYTES = 4096
DEBUG_ID_RE = re.compile(r"^[0-9A-Fa-f]{1,64}$")
# A debug file name is one path component: no separators (the rest, symbol_key checks).
DEBUG_FILE_RE = re.compile(r"^[^/\\]+$")
# Room for the multipart framing around the archive itself.
MULTIPART_FRAMING_BYTES = 64 * 1024


class SymbolUploadRefused(ValueError):
    """The upload cannot be stored; the message says why (answered with a 400)."""


class SymbolStoreUnavailable(Exception):
    """The token store or the symbols bucket did not answer (answered with a 503)."""


@dataclass(frozen=True)
class SymbolModule:
    """What a .sym file's MODULE line says."""

    os: str
    arch: str
    debug_id: str
    debug_file: str

    @property
    def key(self) -> str:
        """Where the symbol server layout puts it: ``<debug_file>/<DEBUG_ID>/<name>.sym``."""
        key = symbol_key(self.debug_file, self.debug_id)
        assert key is not None, "parse_module_line admits only names that make keys"
        return key


@dataclass(frozen=True)
class StoredSymbol:
    key: str
    debug_file: str
    debug_id: str
    os: str
    arch: str
    size: int

    def to_json(self) -> dict:
        return asdict(self)


def check_module_names(debug_file: str, debug_id: str, where: str) -> None:
    """Both names must make one safe path component each, and a symbol key together."""
    if not DEBUG_ID_RE.match(debug_id):
        raise SymbolUploadRefused(f"{where}: debug id {debug_id!r} is not hexadecimal")
    if not DEBUG_FILE_RE.match(debug_file) or symbol_key(debug_file, debug_id) is None:
        raise SymbolUploadRefused(
            f"{where}: debug file {debug_file[:250]!r} cannot be a file name "
            f"(one path component of at most {MAX_DEBUG_FILE_LENGTH} characters, no control characters)"
        )


def parse_module_line(head: bytes, where: str) -> SymbolModule:
    """The MODULE line that starts a .sym file: ``MODULE <os> <arch> <debug id> <debug file>``."""
    line = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise SymbolUploadRefused(f"{where}: the MODULE line is not UTF-8") from None
    parts = text.split(" ", 4)
    if len(parts) != 5 or parts[0] != "MODULE":
        raise SymbolUploadRefused(f"{where}: does not start with 'MODULE <os> <arch> <debug id> <debug file>'")
    _, os_name, arch, debug_id, debug_file = parts
    check_module_names(debug_file, debug_id, where)
    return SymbolModule(os_name, arch, debug_id, debug_file)


# The form fields of sym_upload v1 besides the file part ``symbol_file``.
BREAKPAD_FORM_FIELDS = ("code_file", "cpu", "debug_file", "debug_identifier", "os")
BREAKPAD_FILE_PART = "symbol_file"


def compact_debug_id(debug_id: str) -> str:
    """A debug id as Breakpad's tools compare it: no dashes, upper case."""
    return debug_id.replace("-", "").upper()


def check_breakpad_fields(module: SymbolModule, fields: dict[str, str]) -> None:
    """sym_upload v1's fields must be there and say what the MODULE line says (the line
    is what the stackwalker trusts). ``code_file`` is the tool's copy of the debug file
    name, or the real code file's name: nothing to check it against."""
    missing = [name for name in BREAKPAD_FORM_FIELDS if not fields.get(name)]
    if missing:
        raise SymbolUploadRefused(f"{BREAKPAD_FILE_PART} without the form field(s) {', '.join(missing)}")
    said = {
        "debug_file": (fields["debug_file"], module.debug_file),
        "debug_identifier": (compact_debug_id(fields["debug_identifier"]), compact_debug_id(module.debug_id)),
        "os": (fields["os"], module.os),
        "cpu": (fields["cpu"], module.arch),
    }
    for name, (given, line) in said.items():
        if given != line:
            raise SymbolUploadRefused(f"{name} {fields[name]!r} disagrees with the MODULE line's {line!r}")


def check_member_path(name: str) -> tuple[str, str, str]:
    """The three components of a safe ``<debug_file>/<DEBUG_ID>/<name>.sym`` member path."""
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise SymbolUploadRefused(f"{name!r}: unsafe path in archive")
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in name.split("/")):
        raise SymbolUploadRefused(f"{name!r}: unsafe path in archive")
    if not name.endswith(".sym"):
        raise SymbolUploadRefused(f"{name!r}: not a .sym file")
    if len(parts) != 3:
        raise SymbolUploadRefused(f"{name!r}: not laid out as <debug_file>/<DEBUG_ID>/<name>.sym")
    return parts[0], parts[1], parts[2]


def check_module_matches_path(module: SymbolModule, name: str) -> None:
    if module.key != name:
        raise SymbolUploadRefused(
            f"{name!r}: its MODULE line ({module.debug_file} {module.debug_id}) belongs at {module.key!r}"
        )


class SymbolUpload:
    """Validates an upload's files, then stores them with ``store(key, fileobj)``."""

    def __init__(self, max_upload_bytes: int, max_uncompressed_bytes: int):
        self.max_upload_bytes = max_upload_bytes
        self.max_uncompressed_bytes = max_uncompressed_bytes

    def process(self, files: Iterable[tuple[str, IO[bytes]]], store) -> list[StoredSymbol]:
        """``files`` are (file name, seekable file) pairs from the request. Every file is
        checked before the first is stored."""
        with contextlib.ExitStack() as archives:
            plans: list[tuple[SymbolModule, int, object]] = []
            for filename, fileobj in files:
                plans.extend(self._plan(filename, fileobj, archives))
            return self._store(plans, store)

    def process_breakpad_form(self, fileobj: IO[bytes], fields: dict[str, str], store) -> list[StoredSymbol]:
        """sym_upload v1's ``symbol_file`` (a .sym whatever its file name) and form fields."""
        size = _size(fileobj)
        if size > self.max_upload_bytes:
            raise SymbolUploadRefused(f"{BREAKPAD_FILE_PART} is {size} bytes, over the {self.max_upload_bytes}-byte limit")
        module = parse_module_line(fileobj.read(MODULE_LINE_BYTES), BREAKPAD_FILE_PART)
        check_breakpad_fields(module, fields)
        return self._store([(module, size, lambda: _Rewound(fileobj))], store)

    def _store(self, plans: list[tuple[SymbolModule, int, object]], store) -> list[StoredSymbol]:
        if not plans:
            raise SymbolUploadRefused("no .sym or .zip file in the upload")
        keys = [module.key for module, _, _ in plans]
        if len(set(keys)) != len(keys):
            raise SymbolUploadRefused("the upload holds the same symbol file twice")
        stored = []
        for module, size, opener in plans:
            try:
                with opener() as stream:
                    store(module.key, stream)
            except (zipfile.BadZipFile, EOFError) as error:
                done = ", ".join(item.key for item in stored) or "nothing"
                raise SymbolUploadRefused(f"{module.key!r} is corrupt in the archive ({error}); stored before it: {done}") from None
            stored.append(StoredSymbol(module.key, module.debug_file, module.debug_id, module.os, module.arch, size))
        return stored

    def _plan(self, filename: str, fileobj: IO[bytes], archives: contextlib.ExitStack):
        size = _size(fileobj)
        if size > self.max_upload_bytes:
            raise SymbolUploadRefused(f"{filename!r} is {size} bytes, over the {self.max_upload_bytes}-byte limit")
        if zipfile.is_zipfile(fileobj):
            fileobj.seek(0)
            return self._plan_zip(filename, fileobj, archives)
        fileobj.seek(0)
        if not filename.endswith(".sym"):
            raise SymbolUploadRefused(f"{filename!r} is neither a .zip archive nor a .sym file")
        module = parse_module_line(fileobj.read(MODULE_LINE_BYTES), filename)
        fileobj.seek(0)
        return [(module, size, lambda: _Rewound(fileobj))]

    def _plan_zip(self, filename: str, fileobj: IO[bytes], archives: contextlib.ExitStack):
        """The archive's plans; ``archives`` closes the archive once they are stored."""
        try:
            archive = archives.enter_context(zipfile.ZipFile(fileobj))
            members = [info for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise SymbolUploadRefused(f"{filename!r}: not a readable zip archive ({error})") from None
        total = sum(info.file_size for info in members)
        if total > self.max_uncompressed_bytes:
            raise SymbolUploadRefused(
                f"{filename!r} unpacks to {total} bytes, over the {self.max_uncompressed_bytes}-byte limit"
            )
        plans = []
        for info in members:
            check_member_path(info.filename)
            # zipfile raises NotImplementedError for a compression method it cannot unpack.
            try:
                with archive.open(info) as member:
                    head = member.read(MODULE_LINE_BYTES)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
                raise SymbolUploadRefused(f"{info.filename!r}: cannot be read from the archive ({error})") from None
            module = parse_module_line(head, info.filename)
            check_module_matches_path(module, info.filename)
            # ZipExtFile never yields more than the member's declared size.
            plans.append((module, info.file_size, lambda info=info: archive.open(info)))
        return plans


class _Rewound:
    """A context manager handing out an already open file, left open afterwards."""

    def __init__(self, fileobj: IO[bytes]):
        self.fileobj = fileobj

    def __enter__(self) -> IO[bytes]:
        self.fileobj.seek(0)
        return self.fileobj

    def __exit__(self, *exc) -> None:
        return None


def _size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


class UploadForbidden(Exception):
    """The Auth-Token is missing, unknown, or lacks the ``upload_symbols`` permission."""


class TokenMissing(UploadForbidden):
    """No token at all (answered with a 401; a refused token gets a 403)."""


class SymbolUploader:
    """The symbol-upload endpoint's work: check the token, then validate and store."""

    PERMISSION = "upload_symbols"

    def __init__(self, settings: Settings, stores: Stores | None = None):
        stores = stores or Stores.from_settings(settings, "collector")
        self.tokens = TokenStore(stores.reports)
        self.storage = stores.symbols
        # Tells every process instance, and queues the crashes that missed the symbols.
        self.arrived = SymbolsArrived(settings, stores.symbol_uploads, stores.queues)
        self.max_upload_bytes = settings.max_symbols_upload_bytes
        self.upload = SymbolUpload(settings.max_symbols_upload_bytes, settings.max_symbols_uncompressed_bytes)

    def check_token(self, token: str | None) -> None:
        if not token:
            raise TokenMissing("an Auth-Token header is required (or ?key=<token> for tools that cannot set one)")
        try:
            permissions = self.tokens.permissions(token)
        except InvalidToken as error:
            raise UploadForbidden(f"Auth-Token refused: {error}") from None
        except StoreUnavailable as error:
            raise SymbolStoreUnavailable(f"the token store is unavailable: {error}") from error
        if self.PERMISSION not in permissions:
            raise UploadForbidden(f"the token lacks the {self.PERMISSION} permission")

    def handle(self, request) -> tuple[int, list[StoredSymbol]]:
        """A werkzeug request to ``/symbols/upload``: (status, what was stored). The token
        comes as the ``Auth-Token`` header or, for tools that cannot set headers (Breakpad's
        sym_upload), as the ``key`` query parameter."""
        self.check_token(request.headers.get("Auth-Token") or request.args.get("key"))
        files = self.request_files(request)
        try:
            breakpad_file = request.files.get(BREAKPAD_FILE_PART)
            if breakpad_file is not None:
                if len(files) > 1:
                    raise SymbolUploadRefused(f"{BREAKPAD_FILE_PART} comes alone, one .sym file per request")
                fields = {name: request.form.get(name, "") for name in BREAKPAD_FORM_FIELDS}
                status, stored = 200, self.upload.process_breakpad_form(breakpad_file.stream, fields, self.storage.save)
            else:
                status, stored = 201, self.upload.process(files, self.storage.save)
        except StoreUnavailable as error:
            raise SymbolStoreUnavailable(f"the symbols bucket is unavailable: {error}") from error
        self.symbols_stored([item.key for item in stored])
        return status, stored

    def symbols_stored(self, keys: list[str]) -> list[str]:
        """After files are stored: record them and queue the crashes that missed them (the
        crash ids). A failure is a 503: the files are stored, and an upload sent again
        does this part again."""
        try:
            return self.arrived(keys)
        except (StoreUnavailable, ReprocessingNotQueued) as error:
            raise SymbolStoreUnavailable(
                f"the symbols are stored, but recording the upload failed ({error}); send the upload again"
            ) from error

    def request_files(self, request) -> list[tuple[str, IO[bytes]]]:
        """The (file name, file) pairs of a werkzeug request's multipart body; refused
        without reading it when it says or turns out to be over the size limit."""
        limit = self.max_upload_bytes + MULTIPART_FRAMING_BYTES
        too_large = SymbolUploadRefused(f"the upload is over the {self.max_upload_bytes}-byte limit")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        request.max_content_length = limit
        try:
            return [(upload.filename or name, upload.stream) for name, upload in request.files.items(multi=True)]
        except RequestEntityTooLarge:
            raise too_large from None
