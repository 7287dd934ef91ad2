"""``ProcessedCrash`` and ``RawCrash``: one crash by id, from the crash repository, with
priority processing of a crash that is stored but not processed yet."""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params, crash_id_param
from crashflow.api.errors import BadRequest, NotFound
from crashflow.api.redaction import public_document
from crashflow.stores.errors import CrashNotFound
from crashflow.stores.layout import MAIN_DUMP, MAIN_DUMP_NAMES

RAWDUMP_PERMISSION = "view_rawdump"


def processed_crash(services, call: Call) -> Reply:
    check_known_params(call.args, {"crash_id", "datatype", "format"})
    crash_id = crash_id_param(call.args)
    processed = services.crashes.processed_crash(crash_id)
    if processed is None:
        if not services.crashes.is_stored(crash_id):
            raise NotFound(f"crash {crash_id} not found")
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
    try:
        raw = services.crashes.raw_crash(crash_id)
    except CrashNotFound:
        raise NotFound(f"crash {crash_id} not found") from None
    return Reply(200, public_document(services.fields.raw_crash, call, raw))


def _raw_dump(services, call: Call, crash_id: str, name: str) -> Reply:
    call.require(RAWDUMP_PERMISSION)
    name = MAIN_DUMP if name in MAIN_DUMP_NAMES else name
    try:
        names = services.crashes.dump_names(crash_id)
    except CrashNotFound:
        raise NotFound(f"crash {crash_id} not found") from None
    if name not in names:
        raise NotFound(f"crash {crash_id} has no dump {name[:80]!r}; it has {', '.join(names) or 'none'}")
    data = services.crashes.dump(crash_id, name)
    return Reply(200, data, {"Content-Disposition": f'attachment; filename="{crash_id}.dmp"'})
