"""The raw crash vocabulary: the annotations crashflow understands, with their types.

Clients send every annotation as a string. ``RawCrash`` types the ones the processor reads
(``"1700000000"`` -> ``1700000000``); an annotation it does not know is kept as sent, and
one whose value does not fit its type is dropped from the typed view with a note, never
failing the crash.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class RawCrash(BaseModel):
    """Known annotations under Python names; ``model_extra`` holds the unknown ones."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    # What the collector adds.
    uuid: str | None = None
    submitted_timestamp: str | None = None

    # Product.
    product_name: str | None = Field(None, alias="ProductName")
    version: str | None = Field(None, alias="Version")
    build_id: str | None = Field(None, alias="BuildID")
    release_channel: str | None = Field(None, alias="ReleaseChannel")
    vendor: str | None = Field(None, alias="Vendor")

    # Times (Unix seconds) and durations.
    crash_time: int | None = Field(None, alias="CrashTime")
    startup_time: int | None = Field(None, alias="StartupTime")
    install_time: int | None = Field(None, alias="InstallTime")
    seconds_since_last_crash: int | None = Field(None, alias="SecondsSinceLastCrash")

    # What the user and the application said.
    url: str | None = Field(None, alias="URL")
    email: str | None = Field(None, alias="Email")
    comments: str | None = Field(None, alias="Comments")
    notes: str | None = Field(None, alias="Notes")

    # Process and hang.
    process_type: str | None = Field(None, alias="ProcessType")
    electron_process_type: str | None = Field(None, alias="process_type")
    hang_id: str | None = Field(None, alias="HangID")
    hang: str | None = Field(None, alias="Hang")

    # What the signature generator reads.
    moz_crash_reason: str | None = Field(None, alias="MozCrashReason")
    abort_message: str | None = Field(None, alias="AbortMessage")
    oom_allocation_size: int | None = Field(None, alias="OOMAllocationSize")
    js_large_allocation_failure: str | None = Field(None, alias="JSLargeAllocationFailure")
    ipc_channel_error: str | None = Field(None, alias="ipc_channel_error")
    ipc_message_name: str | None = Field(None, alias="IPCMessageName")
    async_shutdown_timeout: str | None = Field(None, alias="AsyncShutdownTimeout")

    # Add-ons ("id:version,id:version", URL-encoded ids) and whether they were checked.
    add_ons: str | None = Field(None, alias="Add-ons")
    em_check_compatibility: bool | None = Field(None, alias="EMCheckCompatibility")

    # Where there is no dump: the platform Electron and Crashpad clients name.
    platform: str | None = Field(None, alias="platform")
    os_name: str | None = Field(None, alias="os_name")
    os_version: str | None = Field(None, alias="os_version")
    cpu_arch: str | None = Field(None, alias="cpu_arch")

    # Memory.
    total_physical_memory: int | None = Field(None, alias="TotalPhysicalMemory")
    available_physical_memory: int | None = Field(None, alias="AvailablePhysicalMemory")
    system_memory_use_percentage: int | None = Field(None, alias="SystemMemoryUsePercentage")


def typed_annotations(raw_crash: dict, is_public=lambda name: False) -> tuple[RawCrash, list[str]]:
    """``raw_crash`` as a ``RawCrash``, and a note for every value that did not fit its type
    (that annotation is left out of the typed view; the raw crash keeps it). The notes are
    public: they quote a value only where ``is_public(annotation name)``."""
    values = dict(raw_crash)
    notes = []
    while True:
        try:
            return RawCrash.model_validate(values), notes
        except ValidationError as error:
            bad = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]} & values.keys()
            if not bad:
                raise
            for name in sorted(bad):
                value = values.pop(name)
                quoted = f"{str(value)[:40]!r}" if is_public(name) else "(value protected)"
                notes.append(f"annotation {name}: not a valid {_expected(name)}: {quoted}")


def _expected(alias: str) -> str:
    for field in RawCrash.model_fields.values():
        if field.alias == alias:
            return str(field.annotation).split(" | ")[0]
    return "value"
