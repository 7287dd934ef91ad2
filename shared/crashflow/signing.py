"""Crash signatures from Mozilla's siggen, in one place for the processor and the API.

One ``SignatureGenerator`` serves every thread without a lock: siggen builds its rules once
(compiled regular expressions, lists read from its data files) and writes nothing to them
afterwards, and ``generate`` keeps each call's state in a ``Result`` of its own (siggen
2.2's generator.py and rules.py). tests/unit/test_signing.py signs from many threads at once.
"""

from __future__ import annotations

import functools

from siggen.generator import Result, SignatureGenerator
from siggen.utils import int_or_none

# The processed crash fields siggen reads, under the names its crash data uses.
SIGNATURE_INPUT_FIELDS = (
    "hang", "js_large_allocation_failure", "abort_message", "mdsw_status_string",
    "async_shutdown_timeout", "ipc_channel_error", "ipc_message_name",
)


def _path(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def signature_input(processed: dict) -> dict:
    """siggen's crash data for ``processed``: what ``siggen.utils.convert_to_crash_data``
    builds, without its glom path lookups, which took a fifth of the processor's own CPU
    per crash under cProfile. tests/unit/test_signing.py holds it equal to siggen's on every test dump."""
    crash_data = {name: processed.get(name) for name in SIGNATURE_INPUT_FIELDS}
    crash_data["oom_allocation_size"] = int_or_none(processed.get("oom_allocation_size"))
    crash_data["additional_minidumps"] = processed.get("additional_minidumps", [])
    crash_data["original_signature"] = processed.get("signature", "")
    if "json_dump" in processed:
        json_dump = processed["json_dump"]
        crash_data["crashing_thread"] = _path(json_dump, "crash_info", "crashing_thread")
        crash_data["reason"] = _path(json_dump, "crash_info", "type")
        crash_data["threads"] = _path(json_dump, "threads")
        crash_data["os"] = _path(json_dump, "system_info", "os")
    for name in ("java_exception", "java_stack_trace"):
        if name in processed:
            crash_data[name] = processed[name]
    return crash_data


@functools.cache
def generator() -> SignatureGenerator:
    return SignatureGenerator()


def sign(crash_data: dict) -> Result:
    """siggen's signature (with notes and ``extra``) of its crash data."""
    return generator().generate(crash_data)
