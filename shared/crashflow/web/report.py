"""The report page ``/report/index/<crash id>``: one crash in tabs (details, crashing
thread, threads, modules, raw data, add-ons, correlations), and its Reprocess button.

Each tab asks only for what it shows: the processed crash always (one HBase read), the raw
annotations on the raw data tab (and, for a caller without view_pii, on every tab: the
notice counts the annotations hidden too), bugs on details, correlations on their tab. A crash not
processed yet gets the pending page, which polls and becomes the report by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crashflow.api import aggregates, correlations, crashes, reprocessing, signatures
from crashflow.api.calls import Reply
from crashflow.api.errors import BadRequest, NotFound
from crashflow.stores.errors import CrashNotFound
from crashflow.stores.layout import MAIN_DUMP
from crashflow.web.page import Page
from crashflow.web.reasons import explain_address, explain_reason

TABS = {
    "details": "Details",
    "crashing": "Crashing thread",
    "threads": "Threads",
    "modules": "Modules",
    "raw": "Raw data",
    "addons": "Add-ons",
    "correlations": "Correlations",
}
# Frames shown of each thread but the crashing one, unless the user asks for all.
THREAD_FRAMES = 25
PENDING_POLL_SECONDS = 2


@dataclass
class Frame:
    """A stack frame as the page shows it."""

    number: int | None
    module: str
    function: str  # never empty: "no symbols for <module>" when there are none
    symbolized: bool
    source: str  # "path:line" or ""
    offset: str
    trust: str
    inlines: list[dict] = field(default_factory=list)  # innermost first: {function, source}


def _source(item: dict) -> str:
    if not item.get("file"):
        return ""
    return f"{item['file']}:{item['line']}" if item.get("line") is not None else item["file"]


def frame_view(frame: dict) -> Frame:
    module = frame.get("module") or ""
    function = frame.get("function")
    if function:
        text, symbolized = function, True
    else:
        text = f"no symbols for {module}" if module else "no module at this address"
        symbolized = False
    inlines = [{"function": inline.get("function") or "(unknown inline function)", "source": _source(inline)}
               for inline in frame.get("inlines") or []]
    where = frame.get("module_offset") if module else frame.get("offset")
    return Frame(
        number=frame.get("frame"),
        module=module,
        function=text,
        symbolized=symbolized,
        source=_source(frame),
        offset=where or "",
        trust=frame.get("trust") or "",
        inlines=inlines,
    )


def symbol_status(module: dict) -> str:
    """found, missing, corrupt, or "not needed" (no frame needed this module's symbols)."""
    if module.get("corrupt_symbols"):
        return "corrupt"
    if module.get("loaded_symbols"):
        return "found"
    if module.get("missing_symbols"):
        return "missing"
    return "not needed"


def thread_views(dump: dict, crashing_index: int | None, expanded: int | None) -> list[dict]:
    views = []
    for index, thread in enumerate(dump.get("threads") or []):
        frames = thread.get("frames") or []
        complete = index == crashing_index or index == expanded
        shown = frames if complete else frames[:THREAD_FRAMES]
        views.append({
            "index": index,
            "name": thread.get("thread_name") or "",
            "crashing": index == crashing_index,
            "frame_count": len(frames),
            "frames": [frame_view(frame) for frame in shown],
            "hidden_frames": len(frames) - len(shown),
        })
    return views


def dump_names(processed: dict) -> list[str]:
    """The crash's minidumps: the main one, then those processed beside it."""
    names = [MAIN_DUMP] if processed.get("minidump_sha256_hash") or processed.get("json_dump") else []
    return names + [name for name in processed.get("additional_minidumps") or [] if name != MAIN_DUMP]


def stored_dumps(page: Page, crash_id: str) -> list[str]:
    """The crash's minidumps the bucket still has, the main one first: none once they have
    expired (or went with a store that did not keep its files)."""
    try:
        names = page.services.crashes.dump_names(crash_id)
    except CrashNotFound:
        return []
    return sorted(names, key=lambda name: name != MAIN_DUMP)


def correlations_view(page: Page, signature: str | None, products: list[str]) -> dict:
    """A signature's correlations (the Correlations API's answer) and when the
    correlations job last completed (None: never, so no signature has any yet)."""
    params = [("signature", signature), *[("product", product) for product in products if product]]
    found = page.ask(correlations.correlations, params).body if signature else None
    runs = page.ask(aggregates.aggregation_jobs).body["hits"]
    last = next((run["last_success"] for run in runs if run["job"] == "correlations"), None)
    return {"correlations": found, "correlations_run": last}


def values_at(document, path: list[str]):
    """The values at a dotted path of ``document``; through a list, each item's, by index
    (a frame's registers: frame number -> registers). None where there is none."""
    if not path:
        return document
    if isinstance(document, list):
        found = {index: values_at(item, path) for index, item in enumerate(document)}
        return {index: value for index, value in found.items() if value is not None} or None
    if isinstance(document, dict) and path[0] in document:
        return values_at(document[path[0]], path[1:])
    return None


def protected_values(page: Page, processed: dict) -> dict:
    """For a user who may see them: the processed crash's protected fields that have a
    value, by path (what an anonymous view of the page leaves out)."""
    withheld = page.services.fields.processed_crash.public_view(processed).withheld
    found = {path: values_at(processed, path.split(".")) for path in sorted(withheld.fields | withheld.unlisted_paths)}
    return {path: value for path, value in found.items() if value not in (None, "", [], {})}


def crashing_thread_index(processed: dict, dump: dict) -> int | None:
    for candidate in (processed.get("crashing_thread"), (dump.get("crash_info") or {}).get("crashing_thread"),
                      (dump.get("crashing_thread") or {}).get("threads_index")):
        if isinstance(candidate, int):
            return candidate
    return None


def history_runs(history) -> list[dict]:
    """The earlier runs of ``processor_history`` as the page shows them (``completed``,
    ``ruleset``, ``signature``, ``notes``): Socorro's strings, ``<completed> <ruleset>:
    <signature>[; <notes>]`` (``crashflow.processor.service.history_line``), or the records
    that crashes processed by crashflow before it wrote Socorro's strings still carry."""
    runs = []
    for run in history or []:
        if isinstance(run, dict):
            runs.append({"completed": run.get("completed_datetime") or "", "ruleset": run.get("ruleset") or "default",
                         "signature": run.get("signature") or "", "notes": run.get("processor_notes") or ""})
            continue
        completed, _, rest = str(run).partition(" ")
        ruleset, _, outcome = rest.partition(": ")
        signature, _, notes = outcome.partition("; ")
        runs.append({"completed": completed, "ruleset": ruleset or "default", "signature": signature, "notes": notes})
    return runs


def bug_link(settings, bug_id: int) -> str | None:
    """A bug's page, from the Bugzilla REST endpoint bug links come from."""
    base = (settings.bugzilla_url or "").rstrip("/")
    if not base.endswith("/rest/bug"):
        return None
    return f"{base.removesuffix('/rest/bug')}/show_bug.cgi?id={bug_id}"


def report_page(page: Page, crash_id: str) -> Reply:
    tab = page.args.get("tab") or "details"
    if tab not in TABS:
        raise BadRequest(f"no tab {tab[:40]!r}; tabs: {', '.join(TABS)}")
    answer = page.ask(crashes.processed_crash, crash_id=crash_id)
    if answer.status == 202:
        return page.render("pending.html", 202, crash_id=answer.body["crash_id"], seconds=PENDING_POLL_SECONDS)
    hidden_fields = page.withheld_fields(answer.body)
    processed, hidden = page.split_withheld(answer.body)
    raw = raw_hidden = None
    if tab == "raw" or hidden is not None:  # the annotations, or how many of them are hidden
        try:
            raw_answer = page.ask(crashes.raw_crash, crash_id=crash_id).body
            hidden_fields += [f"raw_crash.{name}" for name in page.withheld_fields(raw_answer)]
            raw, raw_hidden = page.split_withheld(raw_answer)
        except NotFound:  # the raw crash went (expired) after it was processed
            pass
    dump = processed.get("json_dump") or {}
    crashing_index = crashing_thread_index(processed, dump)
    values = dict(crash=processed, tab=tab, tabs=TABS, crash_id=processed.get("uuid") or crash_id,
                  dumps=dump_names(processed), raw=raw,
                  hidden=None if hidden is None else hidden + (raw_hidden or 0), hidden_fields=hidden_fields)
    if tab == "details":
        signature = processed.get("signature")
        bugs = page.ask(signatures.bugs, signatures=signature).body["hits"] if signature else []
        values.update(
            bugs=[{"id": bug["id"], "url": bug_link(page.services.settings, bug["id"])} for bug in bugs],
            reason_text=explain_reason(processed.get("reason")),
            address_text=explain_address(processed.get("address"), processed.get("reason")),
            crashing_name=_thread_name(dump, crashing_index),
            crashing_index=crashing_index,
            history=history_runs(processed.get("processor_history")),
        )
    elif tab == "crashing":
        frames = (dump.get("crashing_thread") or {}).get("frames")
        if frames is None and crashing_index is not None and crashing_index < len(dump.get("threads") or []):
            frames = dump["threads"][crashing_index].get("frames")
        values.update(frames=[frame_view(frame) for frame in frames or []], crashing_index=crashing_index,
                      crashing_name=_thread_name(dump, crashing_index))
    elif tab == "threads":
        expanded = page.args.get("thread", type=int)
        values.update(threads=thread_views(dump, crashing_index, expanded))
    elif tab == "modules":
        modules = [dict(module, status=symbol_status(module)) for module in dump.get("modules") or []]
        counts = {status: sum(1 for m in modules if m["status"] == status)
                  for status in ("found", "missing", "corrupt", "not needed")}
        values.update(modules=modules, symbol_counts=counts)
    elif tab == "raw":
        # What the bucket has, not what the processed crash names: a link is never a 404.
        values.update(stored_dumps=stored_dumps(page, values["crash_id"]) if page.may("view_rawdump") else [],
                      protected=protected_values(page, processed) if hidden is None else {})
    elif tab == "addons":
        values.update(addons=[addon.rpartition(":")[::2] if ":" in addon else (addon, "")
                              for addon in processed.get("addons") or []])
    elif tab == "correlations":
        values.update(correlations_view(page, processed.get("signature"), [processed.get("product")]))
    return page.render("report.html", **values)


def _thread_name(dump: dict, index: int | None) -> str:
    threads = dump.get("threads") or []
    if index is None or not 0 <= index < len(threads):
        return ""
    return threads[index].get("thread_name") or ""


def reprocess(page: Page, crash_id: str) -> Reply:
    """The Reprocess button: the crash goes to the reprocessing queue (the API's own
    endpoint, so the same permission and limits apply)."""
    answer = page.ask(reprocessing.reprocessing, form=[("crash_ids", crash_id)])
    if answer.status != 200:
        return page.error(answer.status, answer.body.get("error", "the crash could not be queued"), answer.headers)
    page.session.flash("Queued for reprocessing. The report shows the new result once the processor is done "
                       "(usually within a minute); reload then.")
    return page.redirect(page.link(f"/report/index/{crash_id}", carry=False))
