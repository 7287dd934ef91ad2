"""The processing rules, in the order the default pipeline runs them.

Each rule reads and writes one ``CrashContext``; field names are Socorro's processed crash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from urllib.parse import unquote

from crashflow.crashids import date_from_crash_id
from crashflow.fields import DocumentFields, default_definitions
from crashflow.processor.annotations import typed_annotations
from crashflow.processor.pipeline import CrashContext, Rule
from crashflow.processor.stackwalker import Stackwalker
from crashflow.signing import sign, signature_input
from crashflow.stores.layout import MAIN_DUMP, symbol_key

FAILED_SIGNATURE = "EMPTY: crash failed to process"
# Raw-crash keys that name what the collector or the processor writes, never a client.
RESERVED_KEYS = frozenset({
    "json_dump", "signature", "proto_signature", "processor_notes", "processor_history",
    "success", "mdsw_status_string", "date_processed", "completed_datetime", "started_datetime",
})
COLLECTOR_KEYS = frozenset({"uuid", "submitted_timestamp", "version", "metadata"})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class StartedRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["started_datetime"] = _utcnow().isoformat()


def annotation_label(raw_fields: DocumentFields, name: str) -> str:
    """How a (public) processor note names an annotation: an unlisted one's name may be
    private too (a user's address as a key), so it is not repeated."""
    return repr(name) if raw_fields.is_public(name) else "(an unlisted annotation)"


class CleanAnnotationsRule(Rule):
    """NUL bytes out of names and values, no None values, no reserved names."""

    def __init__(self, raw_fields: DocumentFields | None = None):
        self.raw_fields = raw_fields or default_definitions().raw_crash

    def action(self, crash: CrashContext) -> None:
        clean = {}
        for key, value in crash.raw_crash.items():
            if key in COLLECTOR_KEYS:
                clean[key] = value
                continue
            name = key.replace("\0", "")
            if value is None:
                crash.notes.append(f"annotation {annotation_label(self.raw_fields, name)} has no value; dropped")
                continue
            if not name or name in RESERVED_KEYS:
                crash.notes.append(f"annotation {name!r} is reserved; dropped")
                continue
            if isinstance(value, str) and "\0" in value:
                value = value.replace("\0", "")
                crash.notes.append(f"annotation {annotation_label(self.raw_fields, name)} had NUL bytes; removed")
            clean[name] = value
        crash.raw_crash = clean


class CopyAnnotationsRule(Rule):
    """Types the known annotations and copies them under their processed-crash names."""

    def __init__(self, raw_fields: DocumentFields | None = None):
        self.raw_fields = raw_fields or default_definitions().raw_crash

    COPIED = {
        "product_name": "product", "version": "version", "build_id": "build",
        "release_channel": "release_channel", "url": "url", "email": "email",
        "comments": "user_comments", "notes": "app_notes", "hang_id": "hangid",
        "install_time": "install_time", "moz_crash_reason": "moz_crash_reason_raw",
        "abort_message": "abort_message", "oom_allocation_size": "oom_allocation_size",
        "js_large_allocation_failure": "js_large_allocation_failure",
        "ipc_channel_error": "ipc_channel_error", "ipc_message_name": "ipc_message_name",
        "async_shutdown_timeout": "async_shutdown_timeout",
        "total_physical_memory": "total_physical_memory",
        "available_physical_memory": "available_physical_memory",
        "system_memory_use_percentage": "system_memory_use_percentage",
    }

    def action(self, crash: CrashContext) -> None:
        crash.annotations, notes = typed_annotations(crash.raw_crash, self.raw_fields.is_public)
        crash.notes.extend(notes)
        processed = crash.processed
        for attribute, name in self.COPIED.items():
            value = getattr(crash.annotations, attribute)
            if value is not None and value != "":
                processed[name] = value
        for name in ("product", "version", "build", "release_channel"):
            processed.setdefault(name, "")
        major = processed["version"].split(".", 1)[0]
        processed["major_version"] = int(major) if major.isdigit() else 0


class MozCrashReasonRule(Rule):
    """``moz_crash_reason``: the MozCrashReason annotation where it is one of the constant
    messages of Mozilla's crash macros (``MOZ_CRASH(...)``, ``MOZ_RELEASE_ASSERT(...)``,
    ...), else a placeholder. Other reasons, a Rust panic's message say, can quote a URL or
    a path; the value as sent stays in the protected ``moz_crash_reason_raw``. (Socorro
    refuses a few known prefixes; crashflow keeps only the known-constant ones.)"""

    CONSTANT_PREFIX = "MOZ_"
    SANITIZED = "sanitized--see moz_crash_reason_raw"

    def predicate(self, crash: CrashContext) -> bool:
        return bool(crash.processed.get("moz_crash_reason_raw"))

    def action(self, crash: CrashContext) -> None:
        reason = crash.processed["moz_crash_reason_raw"]
        crash.processed["moz_crash_reason"] = reason if reason.startswith(self.CONSTANT_PREFIX) else self.SANITIZED


class IdentifierRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["uuid"] = crash.crash_id
        crash.processed["crash_id"] = crash.crash_id


class DatesRule(Rule):
    """``date_processed`` is the submit time, as in Socorro: it never changes on reprocessing
    (it keys the report row); without one, the submit day in the crash id. Durations count
    back from the client's crash time (the submit time when it sent none)."""

    def action(self, crash: CrashContext) -> None:
        annotations, processed = crash.annotations, crash.processed
        submitted = _parse_time(crash.raw_crash.get("submitted_timestamp"))
        if submitted is None:
            day = date_from_crash_id(crash.crash_id)
            submitted = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            crash.notes.append("no submitted_timestamp: date_processed is the crash id's day")
        processed["date_processed"] = submitted.isoformat()
        crash_time = annotations.crash_time
        if crash_time is not None:
            processed["client_crash_date"] = dt.datetime.fromtimestamp(crash_time, dt.timezone.utc).isoformat()
        else:
            crash_time = int(submitted.timestamp())
        for name, start in (("uptime", annotations.startup_time), ("install_age", annotations.install_time)):
            if start is not None:
                processed[name] = max(crash_time - start, 0)
        if annotations.seconds_since_last_crash is not None:
            processed["last_crash"] = annotations.seconds_since_last_crash


def _parse_time(value) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class ProcessTypeRule(Rule):
    """Process type (``parent`` unless the client says otherwise) and crash or hang."""

    def action(self, crash: CrashContext) -> None:
        annotations, processed = crash.annotations, crash.processed
        processed["process_type"] = annotations.process_type or annotations.electron_process_type or "parent"
        if annotations.hang_id:
            processed["hang_type"] = 1
        elif annotations.hang and annotations.hang != "0":
            processed["hang_type"] = -1
        else:
            processed["hang_type"] = 0
        processed["report_type"] = "hang" if processed["hang_type"] else "crash"


class DumpChecksumRule(Rule):
    def predicate(self, crash: CrashContext) -> bool:
        return MAIN_DUMP in crash.dumps

    def action(self, crash: CrashContext) -> None:
        crash.processed["minidump_sha256_hash"] = hashlib.sha256(crash.dumps[MAIN_DUMP]).hexdigest()


class StackwalkRule(Rule):
    """minidump-stackwalk on every ``upload_file_minidump*`` dump: the main dump's output is
    ``json_dump``, another dump's goes under its own name (Socorro's layout)."""

    def __init__(self, stackwalker: Stackwalker):
        self.stackwalker = stackwalker

    def action(self, crash: CrashContext) -> None:
        processed = crash.processed
        names = sorted(name for name in crash.dumps if name.startswith(MAIN_DUMP))
        processed["additional_minidumps"] = [name for name in names if name != MAIN_DUMP]
        if MAIN_DUMP not in crash.dumps:
            processed["success"] = False
            processed["mdsw_status_string"] = "NoMinidump"
            crash.notes.append("no minidump")
        for name in names:
            result = self.stackwalker.walk(crash.dumps[name], crash.raw_crash, crash.fresh_symbols)
            # The stackwalker writes null for a dump without macOS boot arguments; Socorro's
            # schema has the field a string, present or absent.
            if result.json_dump.get("mac_boot_args", "") is None:
                del result.json_dump["mac_boot_args"]
            if result.status != "OK":
                crash.notes.append(f"minidump-stackwalk on {name}: {result.status}")
            if name != MAIN_DUMP:
                processed[name] = {"json_dump": result.json_dump, "mdsw_status_string": result.status}
                continue
            processed["json_dump"] = result.json_dump
            processed["stackwalk_version"] = self.stackwalker.version
            processed["mdsw_status_string"] = result.status
            processed["mdsw_return_code"] = result.return_code
            processed["success"] = result.status == "OK"
            if result.stderr.strip():
                processed["mdsw_stderr"] = result.stderr


class StackwalkerOutputRule(Rule):
    """A rule that reads the stackwalker output: skipped when there is none."""

    def predicate(self, crash: CrashContext) -> bool:
        return bool(crash.processed.get("json_dump"))


class TruncateStacksRule(StackwalkerOutputRule):
    """A thread with more than ``max_frames`` frames (deep recursion) keeps its first and
    last ``max_frames // 2``; ``truncated`` and ``frame_count`` tell what was cut."""

    def __init__(self, max_frames: int = 500):
        self.max_frames = max_frames

    def action(self, crash: CrashContext) -> None:
        dump = crash.processed["json_dump"]
        threads = list(dump.get("threads") or [])
        if dump.get("crashing_thread"):
            threads.append(dump["crashing_thread"])
        half = self.max_frames // 2
        for thread in threads:
            frames = thread.get("frames") or []
            if len(frames) > self.max_frames:
                thread["frames"] = frames[:half] + frames[-half:]
                thread["truncated"] = True
                thread.setdefault("frame_count", len(frames))
                crash.notes.append(f"stack of {len(frames)} frames truncated to {self.max_frames}")


class CrashingThreadRule(StackwalkerOutputRule):
    """Crashing thread, reason and address from the stackwalker output."""

    def action(self, crash: CrashContext) -> None:
        dump = crash.processed["json_dump"]
        crash_info = dump.get("crash_info") or {}
        processed = crash.processed
        processed["crashing_thread"] = crash_info.get("crashing_thread")
        processed["reason"] = crash_info.get("type") or ""
        processed["address"] = crash_info.get("address") or ""
        processed["thread_count"] = dump.get("thread_count")
        if crash_info.get("assertion"):
            processed["assertion"] = crash_info["assertion"]


# Annotation platform names (Electron's process.platform) -> the stackwalker's OS names.
PLATFORM_OS_NAMES = {"win32": "Windows NT", "darwin": "Mac OS X", "linux": "Linux", "android": "Android"}


class SystemInfoRule(Rule):
    """OS and CPU from the dump's system info, or from the annotations when there is none."""

    def action(self, crash: CrashContext) -> None:
        system_info = (crash.processed.get("json_dump") or {}).get("system_info") or {}
        annotations, processed = crash.annotations, crash.processed
        platform_os = PLATFORM_OS_NAMES.get((annotations.platform or "").lower(), annotations.platform)
        processed["os_name"] = system_info.get("os") or annotations.os_name or platform_os or ""
        processed["os_version"] = system_info.get("os_ver") or annotations.os_version or ""
        processed["cpu_arch"] = system_info.get("cpu_arch") or annotations.cpu_arch or ""
        processed["cpu_info"] = system_info.get("cpu_info") or ""
        # An integer in Socorro's schema: left out when the dump does not say.
        if isinstance(system_info.get("cpu_count"), int):
            processed["cpu_count"] = system_info["cpu_count"]
        if not system_info and processed["os_name"]:
            crash.notes.append("OS and CPU from annotations: the dump has no system info")


def crashing_thread_frames(dump: dict) -> list[dict]:
    index = (dump.get("crash_info") or {}).get("crashing_thread")
    threads = dump.get("threads") or []
    if isinstance(index, int) and 0 <= index < len(threads):
        return threads[index].get("frames") or []
    return (dump.get("crashing_thread") or {}).get("frames") or []


# Socorro's module strings keep file names to these characters and ids to hex digits.
UNSAFE_FILENAME_RE = re.compile(r"[^A-Za-z0-9_.-]")
NOT_HEX_RE = re.compile(r"[^A-Fa-f0-9]")


def module_in_stack(module: dict) -> str:
    """``filename/debug_id``, as Socorro writes a module in ``modules_in_stack``."""
    filename = UNSAFE_FILENAME_RE.sub("", str(module.get("filename") or ""))
    return f"{filename}/{NOT_HEX_RE.sub('', str(module.get('debug_id') or ''))}"


def missing_module(module: dict) -> str:
    """``filename/version/debug_id[/code_id]``, as Socorro writes a module in ``missing_symbols``."""
    filename = UNSAFE_FILENAME_RE.sub("", str(module.get("filename") or ""))
    version = str(module.get("version") or "None").replace("/", "\\/")
    debug_id = NOT_HEX_RE.sub("", str(module.get("debug_id") or "0" * 33))
    code_id = NOT_HEX_RE.sub("", str(module.get("code_id") or ""))
    return f"{filename}/{version}/{debug_id}" + (f"/{code_id}" if code_id else "")


class ModulesRule(StackwalkerOutputRule):
    """Socorro's ``;``-joined module strings: ``modules_in_stack`` (the modules of the
    crashing thread's frames) and ``missing_symbols`` (the modules the stackwalker had no
    symbols for), each sorted; and ``topmost_filenames``, the source file of the topmost
    frame (an inlined one first) that has one. A field with nothing to say is left out, as
    Socorro does."""

    def action(self, crash: CrashContext) -> None:
        dump, processed = crash.processed["json_dump"], crash.processed
        modules = {module.get("filename"): module for module in dump.get("modules") or []
                   if isinstance(module, dict) and module.get("filename")}
        frames = crashing_thread_frames(dump)
        in_stack = sorted({module_in_stack(modules[frame.get("module")]) for frame in frames
                           if frame.get("module") in modules})
        missing = sorted(missing_module(module) for module in modules.values() if module.get("missing_symbols") is True)
        for name, values in (("modules_in_stack", in_stack), ("missing_symbols", missing)):
            if values:
                processed[name] = ";".join(values)
            else:
                processed.pop(name, None)
        topmost = topmost_filename(frames)
        if topmost:
            processed["topmost_filenames"] = topmost
        else:
            processed.pop("topmost_filenames", None)


def topmost_filename(frames: list[dict]) -> str | None:
    for frame in frames:
        for inline in frame.get("inlines") or []:
            if isinstance(inline, dict) and inline.get("file"):
                return inline["file"]
        if frame.get("file"):
            return frame["file"]
    return None


class CorruptSymbolsRule(Rule):
    """A note naming each module whose symbol file the stackwalker found corrupt, and the
    file: the crash would otherwise just look unsymbolicated where it read nothing."""

    def action(self, crash: CrashContext) -> None:
        processed = crash.processed
        walked = [(MAIN_DUMP, processed.get("json_dump") or {})]
        walked += [(name, (processed.get(name) or {}).get("json_dump") or {})
                   for name in processed.get("additional_minidumps") or []]
        for dump_name, json_dump in walked:
            for module in json_dump.get("modules") or []:
                if isinstance(module, dict) and module.get("corrupt_symbols") is True:
                    debug_file, debug_id = module.get("debug_file"), module.get("debug_id")
                    crash.notes.append(
                        f"corrupt symbol file for module {module.get('filename') or debug_file} "
                        f"({debug_file} {debug_id}): {symbol_key(debug_file, debug_id) or 'no valid key'}"
                        + ("" if dump_name == MAIN_DUMP else f" (in {dump_name})")
                    )


class MacBootArgsRule(StackwalkerOutputRule):
    """``mac_boot_args`` (protected: it can identify a machine) from the dump's macOS boot
    arguments stream, when it holds any."""

    def action(self, crash: CrashContext) -> None:
        value = crash.processed["json_dump"].get("mac_boot_args")
        if isinstance(value, str) and value.strip():
            crash.processed["mac_boot_args"] = value.strip()
            crash.processed["has_mac_boot_args"] = True


class AddonsRule(Rule):
    """``addons``: the ``Add-ons`` annotation as ``id:version`` strings, ids URL-decoded."""

    def action(self, crash: CrashContext) -> None:
        annotations = crash.annotations
        addons = []
        for item in (annotations.add_ons or "").split(","):
            addon_id, colon, version = item.strip().rpartition(":")
            if not colon:
                addon_id, version = item.strip(), ""
            if addon_id:
                addons.append(f"{unquote(addon_id)}:{version}")
        crash.processed["addons"] = addons
        crash.processed["addons_checked"] = annotations.em_check_compatibility


class SignatureRule(Rule):
    """Signature, proto signature and notes from Mozilla's siggen."""

    def action(self, crash: CrashContext) -> None:
        processed = crash.processed
        if not processed.get("json_dump"):
            processed["signature"] = FAILED_SIGNATURE
            processed["proto_signature"] = ""
            return
        result = sign(signature_input(processed))
        processed["signature"] = result.signature
        processed["proto_signature"] = result.extra.get("proto_signature", "")
        crash.notes.extend(result.notes)


class FinishRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["completed_datetime"] = _utcnow().isoformat()
        crash.processed["processor_notes"] = "; ".join(crash.notes)


def default_rules(stackwalker: Stackwalker, raw_fields: DocumentFields | None = None) -> list[Rule]:
    """``raw_fields``: the raw crash's field definitions (which annotations the public
    processor notes may name); the defaults when None."""
    return [
        StartedRule(),
        CleanAnnotationsRule(raw_fields),
        CopyAnnotationsRule(raw_fields),
        MozCrashReasonRule(),
        IdentifierRule(),
        DatesRule(),
        ProcessTypeRule(),
        DumpChecksumRule(),
        StackwalkRule(stackwalker),
        TruncateStacksRule(),
        CrashingThreadRule(),
        SystemInfoRule(),
        ModulesRule(),
        CorruptSymbolsRule(),
        MacBootArgsRule(),
        AddonsRule(),
        SignatureRule(),
        FinishRule(),
    ]


def regenerate_signature_rules() -> list[Rule]:
    """Re-sign a stored processed crash from its ``json_dump``, without stack-walking again."""
    return [StartedRule(), SignatureRule(), FinishRule()]
