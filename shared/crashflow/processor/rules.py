"""The processing rules, in the order the default pipeline runs them."""

from __future__ import annotations

import datetime as dt
import hashlib

from siggen.generator import SignatureGenerator
from siggen.utils import convert_to_crash_data

from crashflow.processor.pipeline import CrashContext, Rule
from crashflow.processor.stackwalker import Stackwalker
from crashflow.stores.s3 import MAIN_DUMP

FAILED_SIGNATURE = "EMPTY: crash failed to process"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class IdentifierRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["uuid"] = crash.crash_id
        crash.processed["crash_id"] = crash.crash_id


class StartedRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["started_datetime"] = _utcnow().isoformat()


class ProductRule(Rule):
    """Product, version and build from the annotations."""

    def action(self, crash: CrashContext) -> None:
        raw, processed = crash.raw_crash, crash.processed
        processed["product"] = raw.get("ProductName", "")
        processed["version"] = raw.get("Version", "")
        processed["release_channel"] = raw.get("ReleaseChannel", "")
        processed["build"] = raw.get("BuildID", "")
        major = processed["version"].split(".", 1)[0]
        processed["major_version"] = int(major) if major.isdigit() else 0


class DatesRule(Rule):
    """``date_processed`` is the submit time, as in Socorro: it never changes on reprocessing."""

    def action(self, crash: CrashContext) -> None:
        submitted = crash.raw_crash.get("submitted_timestamp")
        crash.processed["date_processed"] = submitted or _utcnow().isoformat()
        crash_time = crash.raw_crash.get("CrashTime")
        if crash_time and str(crash_time).isdigit():
            crash.processed["client_crash_date"] = dt.datetime.fromtimestamp(
                int(crash_time), dt.timezone.utc
            ).isoformat()


class AnnotationsRule(Rule):
    """Annotations copied under their processed-crash names, and the durations."""

    COPIED = {"URL": "url", "Email": "email", "Comments": "user_comments", "Notes": "app_notes", "HangID": "hangid"}

    def action(self, crash: CrashContext) -> None:
        raw, processed = crash.raw_crash, crash.processed
        for annotation, name in self.COPIED.items():
            if raw.get(annotation):
                processed[name] = raw[annotation]
        crash_time = _int(raw.get("CrashTime"))
        for name, annotation in (("uptime", "StartupTime"), ("install_age", "InstallTime")):
            start = _int(raw.get(annotation))
            if crash_time is not None and start is not None:
                processed[name] = max(crash_time - start, 0)
        if _int(raw.get("SecondsSinceLastCrash")) is not None:
            processed["last_crash"] = _int(raw["SecondsSinceLastCrash"])


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ProcessTypeRule(Rule):
    def action(self, crash: CrashContext) -> None:
        raw = crash.raw_crash
        crash.processed["process_type"] = raw.get("ProcessType") or raw.get("process_type") or "parent"
        crash.processed["report_type"] = "hang" if raw.get("Hang") or raw.get("HangID") else "crash"


class DumpChecksumRule(Rule):
    def predicate(self, crash: CrashContext) -> bool:
        return MAIN_DUMP in crash.dumps

    def action(self, crash: CrashContext) -> None:
        crash.processed["minidump_sha256_hash"] = hashlib.sha256(crash.dumps[MAIN_DUMP]).hexdigest()


class StackwalkRule(Rule):
    """minidump-stackwalk on the main dump; other ``upload_file_minidump*`` dumps go into
    ``additional_minidumps``."""

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
            return
        for name in names:
            result = self.stackwalker.walk(crash.dumps[name])
            if name == MAIN_DUMP:
                processed["json_dump"] = result.json_dump
                processed["stackwalk_version"] = self.stackwalker.version
                processed["mdsw_status_string"] = result.status
                processed["mdsw_return_code"] = result.return_code
                processed["success"] = result.status == "OK"
                if result.status != "OK":
                    crash.notes.append(f"minidump-stackwalk: {result.status}")
                if result.stderr.strip():
                    processed["mdsw_stderr"] = result.stderr
            else:
                processed[name] = {"json_dump": result.json_dump, "mdsw_status_string": result.status}


class CrashInfoRule(Rule):
    """Crashing thread, reason, address, OS and CPU from the stackwalker output."""

    def predicate(self, crash: CrashContext) -> bool:
        return bool(crash.processed.get("json_dump"))

    def action(self, crash: CrashContext) -> None:
        dump = crash.processed["json_dump"]
        crash_info = dump.get("crash_info") or {}
        system_info = dump.get("system_info") or {}
        processed = crash.processed
        processed["crashing_thread"] = crash_info.get("crashing_thread")
        processed["reason"] = crash_info.get("type") or ""
        processed["address"] = crash_info.get("address") or ""
        processed["os_name"] = system_info.get("os") or ""
        processed["os_version"] = system_info.get("os_ver") or ""
        processed["cpu_arch"] = system_info.get("cpu_arch") or ""
        processed["cpu_info"] = system_info.get("cpu_info") or ""
        processed["cpu_count"] = system_info.get("cpu_count")
        processed["thread_count"] = dump.get("thread_count")


class SignatureRule(Rule):
    """The signature, from Mozilla's siggen."""

    def __init__(self):
        self.generator = SignatureGenerator()

    def action(self, crash: CrashContext) -> None:
        processed = crash.processed
        if not processed.get("json_dump") and not processed.get("success"):
            processed["signature"] = FAILED_SIGNATURE
            return
        result = self.generator.generate(convert_to_crash_data(processed))
        processed["signature"] = result.signature
        processed["proto_signature"] = result.extra.get("proto_signature", "")
        crash.notes.extend(result.notes)


class FinishRule(Rule):
    def action(self, crash: CrashContext) -> None:
        crash.processed["completed_datetime"] = _utcnow().isoformat()
        crash.processed["processor_notes"] = "; ".join(crash.notes)


def default_rules(stackwalker: Stackwalker) -> list[Rule]:
    return [
        IdentifierRule(),
        StartedRule(),
        ProductRule(),
        DatesRule(),
        AnnotationsRule(),
        ProcessTypeRule(),
        DumpChecksumRule(),
        StackwalkRule(stackwalker),
        CrashInfoRule(),
        SignatureRule(),
        FinishRule(),
    ]
