"""``ProcessedCrash`` and ``RawCrash``: one crash by id, from HBase (raw crash and dumps
fall back to S3), with priority processing of a crash that is not processed yet."""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params, crash_id_param
from crashflow.api.errors import BadRequest, NotFound
from crashflow.api.redaction import public_document
from crashflow.stores.s3 import MAIN_DUMP, CrashNotFound

RAWDUMP_PERMISSION = "view_rawdump"
# Names of the main dump: Socorro's clients ask for it under any of these.
MAIN_DUMP_NAMES = ("", "dump", MAIN_DUMP)


def processed_crash(services, call: Call) -> Reply:
    check_known_params(call.args, {"crash_id", "datatype", "format"})
    crash_id = crash_id_param(call.args)
    processed = services.crash_table.get_processed_crash(crash_id)
    if processed is None:
        try:
            services.storage.load_raw_crash(crash_id)
        except CrashNotFound:
            raise NotFound(f"crash {crash_id} not found") from None
        processed = services.priority.process(crash_id)
        if processed is None:
            return Reply(202, {
                "status": "pending",
                "crash_id": crash_id,
                "error": "the crash is being processed; ask again in a few seconds",
            }, {"Retry-After": "2"})
    return Reply(200, public_document(services.fields.processed_crash, call, processed))


def raw_crash(services, call: Call) -> Reply:
    check_known_params(call.args, {"crash_id", "format", "name", "datatype"})
    crash_id = crash_id_param(call.args)
    kind = call.args.get("format") or call.args.get("datatype") or "meta"
    if kind == "raw":
        return _raw_dump(services, call, crash_id, call.args.get("name", ""))
    if kind != "meta":
        raise BadRequest(f"format must be meta or raw, not {kind[:40]!r}")
    raw = services.crash_table.get_raw_crash(crash_id)
    if raw is None:
        try:
            raw = services.storage.load_raw_crash(crash_id)
        except CrashNotFound:
            raise NotFound(f"crash {crash_id} not found") from None
    return Reply(200, public_document(services.fields.raw_crash, call, raw))


def _raw_dump(services, call: Call, crash_id: str, name: str) -> Reply:
    call.require(RAWDUMP_PERMISSION)
    name = MAIN_DUMP if name in MAIN_DUMP_NAMES else name
    try:
        names = services.storage.load_dump_names(crash_id)
    except CrashNotFound:
        raise NotFound(f"crash {crash_id} not found") from None
    if name not in names:
        raise NotFound(f"crash {crash_id} has no dump {name[:80]!r}; it has {', '.join(names) or 'none'}")
    data = services.storage.load_dump(crash_id, name)
    return Reply(200, data, {"Content-Disposition": f'attachment; filename="{crash_id}.dmp"'})
