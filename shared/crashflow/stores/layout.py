"""Where crashflow keeps a crash and a symbol file: every key, in one place.

The crash bucket (S3), in Antenna's v1 layout:

- ``v1/raw_crash/<YYYYMMDD>/<crash id>``: the raw crash JSON (sorted keys)
- ``v1/dump_names/<crash id>``: JSON list of dump names
- ``v1/<dump name>/<crash id>``: each dump; ``upload_file_minidump`` is stored as ``dump``

The crash records (HBase), Socorro 2.x's salted keys:

- ``crash_reports`` row: ``<id[0]><YYMMDD><id>`` (the first hex digit of the id spreads
  rows over 16 regions; the submit day groups a day's crashes under one prefix per salt)
- submitted-time index row: ``<id[0]><submitted timestamp><id>``

The symbols bucket, the Breakpad symbol server layout that minidump-stackwalk and Mozilla's
``sym_upload`` use: ``<debug file>/<DEBUG_ID>/<debug file without .pdb>.sym``; files
uploaded with sym-upload-v2 wait under ``_uploads/<upload key>`` until the upload is
completed (two path components: never a symbol key, which has three). A symbol key without
its file name, ``<debug file>/<DEBUG_ID>``, is the module id: what ``symbol_uploads`` and
``reports.missing_modules`` (PostgreSQL) record an upload and a crash's missing module by.
"""

from __future__ import annotations

import datetime as dt
import re

from crashflow.crashids import date_from_crash_id

# -- the crash bucket ---------------------------------------------------------------------

MAIN_DUMP = "upload_file_minidump"
# Names of the main dump: Socorro's clients ask for it under any of these.
MAIN_DUMP_NAMES = ("", "dump", MAIN_DUMP)
RAW_CRASH_PREFIX = "v1/raw_crash/"


def dump_key(crash_id: str, name: str) -> str:
    return f"v1/{'dump' if name == MAIN_DUMP else name}/{crash_id}"


def dump_names_key(crash_id: str) -> str:
    return f"v1/dump_names/{crash_id}"


def raw_crash_key(crash_id: str) -> str:
    return f"{raw_crash_day_prefix(date_from_crash_id(crash_id))}{crash_id}"


def raw_crash_day_prefix(day: dt.date) -> str:
    """The prefix of every raw crash submitted on ``day``."""
    return f"{RAW_CRASH_PREFIX}{day:%Y%m%d}/"


def day_of_raw_crash_prefix(prefix: str) -> dt.date:
    """``v1/raw_crash/20261126/`` -> 2026-11-26."""
    return dt.datetime.strptime(prefix.removeprefix(RAW_CRASH_PREFIX).strip("/"), "%Y%m%d").date()


def crash_id_of_key(key: str) -> str:
    """The crash id that ends a crash bucket key."""
    return key.rsplit("/", 1)[1]


# -- the crash records --------------------------------------------------------------------

SALTS = "0123456789abcdef"
ROW_KEY_PREFIX_LENGTH = 7  # salt + YYMMDD


def hbase_row_key(crash_id: str) -> bytes:
    """The ``crash_reports`` row key: salt character, YYMMDD, then the id."""
    return f"{crash_id[0]}{crash_id[-6:]}{crash_id}".encode()


def crash_id_of_row_key(key: bytes) -> str:
    return key[ROW_KEY_PREFIX_LENGTH:].decode()


def day_row_prefix(salt: str, day: str) -> bytes:
    """The prefix of a salt's rows submitted on ``day`` (``YYMMDD``)."""
    return f"{salt}{day}".encode()


def submitted_index_key(crash_id: str, submitted: str) -> bytes:
    """The submitted-time index row: salt, the ISO submit timestamp, the id."""
    return f"{crash_id[0]}{submitted}{crash_id}".encode()


def module_names(processed_crash: dict) -> list[str]:
    """What a record's ``processed_data:modules`` holds: the file names of the modules the
    stackwalker found, in dump order (correlations read them without the processed crash)."""
    modules = (processed_crash.get("json_dump") or {}).get("modules") or []
    return [module["filename"] for module in modules if module.get("filename")]


def addon_ids(processed_crash: dict) -> list[str]:
    """What a record's ``processed_data:addons`` holds: the add-on ids of ``addons``
    (Socorro's ``id:version`` strings)."""
    return [addon.rpartition(":")[0] or addon for addon in processed_crash.get("addons") or []]


# -- the symbols bucket -------------------------------------------------------------------

# debug_file and debug_id come from a dump or an upload, i.e. from whoever sent it: only
# names that are one plain path component make keys (and the processor's cache paths).
SYMBOL_STAGING_PREFIX = "_uploads/"
MAX_DEBUG_FILE_LENGTH = 200
DEBUG_ID_RE = re.compile(r"[0-9A-Za-z]{1,64}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def sym_file_name(debug_file: str) -> str:
    """``test_app.pdb`` -> ``test_app.sym``; ``libxul.so`` -> ``libxul.so.sym``."""
    stem = debug_file[:-4] if debug_file.lower().endswith(".pdb") else debug_file
    return f"{stem}.sym"


def debug_file_leaf(debug_file: str) -> str:
    """The file name a module's debug file is stored under: its last path component,
    Windows or POSIX (dumps carry full build paths such as ``c:\\builds\\xul.pdb``)."""
    return re.split(r"[/\\]", debug_file)[-1]


def symbol_key(debug_file: object, debug_id: object) -> str | None:
    """``<leaf>/<debug_id>/<name>.sym`` as minidump-stackwalk looks it up, or None when
    either part is not a safe name."""
    if not isinstance(debug_file, str) or not isinstance(debug_id, str):
        return None
    leaf = debug_file_leaf(debug_file)
    if leaf in ("", ".", "..") or len(leaf) > MAX_DEBUG_FILE_LENGTH or CONTROL_RE.search(leaf):
        return None
    if not DEBUG_ID_RE.fullmatch(debug_id):
        return None
    return f"{leaf}/{debug_id}/{sym_file_name(leaf)}"


def staged_symbol_key(upload_key: str) -> str:
    """Where a sym-upload-v2 file waits for its ``complete`` call."""
    return f"{SYMBOL_STAGING_PREFIX}{upload_key}"


def module_id(debug_file: object, debug_id: object) -> str | None:
    """``<leaf>/<debug_id>``: the module a symbol file is for, or None when either part is
    not a safe name."""
    key = symbol_key(debug_file, debug_id)
    return None if key is None else module_id_of_symbol_key(key)


def module_id_of_symbol_key(key: str) -> str:
    """``xul.pdb/AA01/xul.sym`` -> ``xul.pdb/AA01``."""
    return key.rsplit("/", 1)[0]


def modules_missing_symbols(json_dump: dict) -> list[tuple[str, dict]]:
    """(symbol key, module) of each module the stackwalker needed and had no symbols for,
    in module order, each key once; modules with unsafe names are left out."""
    found: dict[str, dict] = {}
    for module in json_dump.get("modules") or []:
        if isinstance(module, dict) and module.get("missing_symbols") is True:
            key = symbol_key(module.get("debug_file"), module.get("debug_id"))
            if key is not None:
                found.setdefault(key, module)
    return list(found.items())
