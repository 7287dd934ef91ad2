"""API documentation ``/documentation/``: every endpoint of the query function's routing map
with its parameters, an example request filled with this install's own data, the answer
this install gives to it, and a form that runs it here; and the data dictionary
``/documentation/datadictionary/``: every SuperSearch field (from ``SuperSearchFields``,
the API's own answer) and every processed and raw crash field (from the field definitions,
``crashflow.fields``), so neither can drift from what the API does.

``ENDPOINTS`` describes each API route; a test checks that it names exactly the routes of
``query_app.API_ROUTES`` and that each endpoint accepts every parameter documented here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from crashflow.api import fields as fields_endpoint
from crashflow.api import search
from crashflow.api.calls import Reply
from crashflow.api.errors import ApiError, BadRequest, NotFound
from crashflow.web.page import Page, query_string

EXAMPLE_ANSWER_CHARS = 6000


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    path: str
    summary: str
    params: tuple[Param, ...] = ()
    # The example's parameters; "{product}", "{signature}" and "{crash_id}" are filled
    # with this install's busiest product, its top signature and a recent crash.
    example: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    permission: str | None = None
    answer: str = ""  # what a POST answers (GET answers are shown live)
    body: str = ""  # a POST's example body
    group: str = "Crashes"
    slug: str = ""  # the documentation page's name, when the path has parts of its own
    live: bool = True  # a GET whose example this install answers on the page

    @property
    def name(self) -> str:
        return self.slug or self.path.strip("/").removeprefix("api/")


PRODUCT = Param("product", "the product (ProductName)", True)
DAYS = Param("days", "the window: 1, 3, 7, 14 or 28 whole UTC days ending today (default 7)")
END_DATE = Param("end_date", "the window's last day, YYYY-MM-DD (default today, UTC)")
RESULTS = Param("_results_number", "how many to return")

ENDPOINTS = (
    Endpoint("/api/SuperSearch/", "Search crash reports: filter on any field of the data dictionary with its "
             "operators, count by any field (facets), choose columns, sort and page.", (
                 Param("<field>", "a filter on any field of the data dictionary, e.g. product=MyApp, "
                       "version=2.0, signature=~foo (contains), date=>=2026-11-01; repeat for OR / ranges"),
                 Param("_columns", "the fields each hit carries (default: uuid, date, signature, product, version)"),
                 Param("_facets", "fields to count crashes by (default: signature)"),
                 Param("_facets_size", "buckets per facet (default 50)"),
                 Param("_histogram.date", "crashes per day, counted by these fields too"),
                 Param("_sort", "a field to sort by, - for descending (e.g. -date)"),
                 Param("_results_number", "hits per page (default 100, at most 1000)"),
                 Param("_results_offset", "hits to skip"),
             ), (("product", "{product}"), ("date", ">={week_ago}"), ("_facets", "version"),
                 ("_results_number", "3")), group="Search"),
    Endpoint("/api/SuperSearchFields/", "Every searchable field: type, operators, description, and the "
             "permission a protected one needs (the data dictionary).", group="Search"),
    Endpoint("/api/ProcessedCrash/", "A processed crash: signature, stack, modules, annotations "
             "(protected ones need view_pii).", (
                 Param("crash_id", "the crash id", True),
                 Param("datatype", "processed (default) or unredacted"),
                 Param("format", "json"),
             ), (("crash_id", "{crash_id}"),)),
    Endpoint("/api/RawCrash/", "A crash's annotations as collected, or one of its minidumps (view_rawdump).", (
        Param("crash_id", "the crash id", True),
        Param("format", "json (annotations) or raw (a minidump)"),
        Param("name", "the minidump's name (upload_file_minidump by default)"),
        Param("datatype", "meta (annotations) or raw (a minidump)"),
    ), (("crash_id", "{crash_id}"),)),
    Endpoint("/api/Reprocessing/", "Queue crashes for processing again.", (
        Param("crash_ids", "crash ids, or id:ruleset; repeat or separate with commas", True),
    ), method="POST", permission="reprocess_crashes", answer="true once every crash is queued",
        body="crash_ids={crash_id}"),
    Endpoint("/api/CrashSignature/", "Sign crash data with the processor's signature rules, without storing it.",
             method="POST", answer='{"results": [{"signature": "...", "notes": [...], "extra": {...}}]}',
             body='{"jobs": [{"os": "Windows NT", "crashing_thread": 0, "threads": [{"frames": '
                  '[{"frame": 0, "function": "crash_here", "module": "app.exe"}]}]}]}', group="Signatures"),
    Endpoint("/api/Bugs/", "The bugs linked to signatures.", (
        Param("signatures", "signatures; repeat for several", True),), (("signatures", "{signature}"),),
        group="Signatures"),
    Endpoint("/api/SignaturesByBugs/", "The signatures linked to bugs.", (
        Param("bug_ids", "bug ids; repeat for several", True),), (("bug_ids", "1"),), group="Signatures"),
    Endpoint("/api/SignatureFirstDate/", "When signatures were first seen, and in which build.", (
        Param("signatures", "signatures; repeat for several", True),), (("signatures", "{signature}"),),
        group="Signatures"),
    Endpoint("/api/Correlations/", "Modules and add-ons over-represented in a signature's crashes.", (
        Param("signature", "the signature", True), Param("product", "products; repeat for several")),
        (("signature", "{signature}"), ("product", "{product}")), group="Signatures"),
    Endpoint("/api/TopCrashers/", "A product's signatures ranked by crashes in a window, with rank changes, "
             "platform split, hangs, installs, first seen, linked bugs and crashes per day.", (
                 PRODUCT, Param("version", "versions; repeat for several"), DAYS,
                 Param("process_type", "one process type"), Param("platform", "win, mac, lin or other"),
                 Param("_results_number", "how many signatures (default 50)"), END_DATE,
             ), (("product", "{product}"), ("days", "7"), ("_results_number", "3")), group="Aggregates"),
    Endpoint("/api/CrashesPerDay/", "A product's crashes per day and version (every day, zeros included).", (
        PRODUCT, Param("version", "versions; repeat for several"),
        Param("from_date", "the first day (default 6 days before to_date)"),
        Param("to_date", "the last day (default today)"), Param("os_name", "one operating system"),
        Param("process_type", "one process type"), Param("report_type", "crash or hang"),
    ), (("product", "{product}"),), group="Aggregates"),
    Endpoint("/api/Products/", "Products with crashes in the window: crashes per day, versions newest first.",
             (DAYS, END_DATE), (("days", "7"),), group="Aggregates"),
    Endpoint("/api/NewSignatures/", "A product's signatures first seen in the window.",
             (PRODUCT, DAYS, END_DATE, RESULTS), (("product", "{product}"),), group="Aggregates"),
    Endpoint("/api/ExplosiveSignatures/", "A product's signatures whose explosiveness score reached the "
             "threshold on a day of the window.", (
                 PRODUCT, DAYS, END_DATE, Param("threshold", "the score (default 3)"), RESULTS),
             (("product", "{product}"),), group="Aggregates"),
    Endpoint("/api/Regressions/", "A product's signatures back in the window after a stretch without crashes, "
             "with the versions they came back in.", (
                 PRODUCT, DAYS, END_DATE, Param("quiet_days", "days without a crash before (default 14)"), RESULTS),
             (("product", "{product}"),), group="Aggregates"),
    Endpoint("/api/MissingSymbols/", "The modules a day's crashes needed whose symbols the symbols bucket "
             "lacks, most crashes first (crashflow symbols missing prints the same).", (
                 Param("date", "the day, YYYY-MM-DD (default today, UTC)"), Param("product", "one product")),
             (("product", "{product}"),), group="Symbols"),
    Endpoint("/symbols/<debug_file>/<debug_id>/<name>", "The symbol server (minidump-stackwalk's --symbols-url, "
             "Breakpad's processor, debuggers): GET redirects to the .sym file (or sends it), HEAD answers its "
             "size, 404 for a file not uploaded. Public unless CRASHFLOW_SYMBOLS_PUBLIC=false (then view_symbols).",
             (Param("debug_file", "the module's debug file, e.g. xul.pdb (in the path)", True),
              Param("debug_id", "its debug id, 33 hex digits (in the path)", True),
              Param("name", "the symbol file's name, e.g. xul.sym (in the path)", True)),
             (("debug_file", "test_app.pdb"), ("debug_id", "5A9832E5287241C1838ED98914E9B7FF1"),
              ("name", "test_app.sym")),
             group="Symbols", slug="symbols", live=False,
             answer="302 to the .sym file (text/plain), or 404 {\"error\": \"no symbol file ...\"}"),
    Endpoint("/api/AggregationJobs/", "The latest run of every aggregation job: window, status, rows, error, "
             "last success.", group="Operations"),
    Endpoint("/api/Alerts/", "Alerts the rules raised, with their deliveries.", (
        Param("rule", "rule names"), Param("kind", "new_signature, explosive, regression or crash_rate"),
        Param("product", "products"), Param("signature", "signatures"),
        Param("from_date", "fired on or after this day"), Param("to_date", "fired on or before this day"),
        Param("include_samples", "true to include `crashflow alerts test` samples"),
        Param("_results_number", "how many (default 100)"), Param("_results_offset", "alerts to skip"),
    ), (("_results_number", "5"),), group="Operations"),
    Endpoint("/__heartbeat__", "Can every store be reached? 200 when all can, 503 otherwise.", group="Operations"),
)
GROUPS = ("Search", "Crashes", "Signatures", "Aggregates", "Symbols", "Operations")
BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


@dataclass
class Samples:
    """Values from this install for the examples (placeholders when it has no crashes)."""

    product: str = "MyApp"
    signature: str = "OOM | small"
    crash_id: str = "bp-00000000-0000-0000-0000-000000261130"
    week_ago: str = field(default_factory=lambda: (dt.datetime.now(dt.timezone.utc).date()
                                                   - dt.timedelta(days=7)).isoformat())

    @classmethod
    def of(cls, page: Page) -> Samples:
        samples = cls()
        hits = page.ask(search.super_search, [("date", f">={samples.week_ago}"), ("_columns", "uuid"),
                                              ("_columns", "product"), ("_columns", "signature"),
                                              ("_sort", "-date"), ("_results_number", "1"),
                                              ("_facets", "")]).body["hits"]
        if hits:
            samples.product, samples.signature, samples.crash_id = (
                hits[0]["product"] or samples.product, hits[0]["signature"] or samples.signature, hits[0]["uuid"])
        return samples

    def fill(self, text: str) -> str:
        """``text`` with its placeholders filled (not str.format: bodies hold JSON braces)."""
        for name in ("product", "signature", "crash_id", "week_ago"):
            text = text.replace(f"{{{name}}}", getattr(self, name))
        return text


def example_params(endpoint: Endpoint, samples: Samples) -> list[tuple[str, str]]:
    return [(name, samples.fill(value)) for name, value in endpoint.example]


def example_url(endpoint: Endpoint, samples: Samples) -> str:
    if not endpoint.live:  # the example's values are parts of the path
        path = endpoint.path
        for name, value in example_params(endpoint, samples):
            path = path.replace(f"<{name}>", value)
        return path
    query = query_string(example_params(endpoint, samples))
    return f"{endpoint.path}?{query}" if query else endpoint.path


def documentation_page(page: Page) -> Reply:
    """The index: every endpoint by group."""
    groups = {group: [e for e in ENDPOINTS if e.group == group] for group in GROUPS}
    return page.render("documentation.html", nav="documentation", groups=groups)


def endpoint_page(page: Page, name: str) -> Reply:
    """One endpoint: parameters, the example request and this install's answer, the form."""
    endpoint = BY_NAME.get(name)
    if endpoint is None:
        raise NotFound(f"no endpoint {name[:60]!r}; see /documentation/")
    samples = Samples.of(page)
    answer = None
    if endpoint.method == "GET" and endpoint.live:
        answer = example_answer(page, endpoint, samples)
    base = page.request.host_url.rstrip("/")
    return page.render("endpoint.html", nav="documentation", endpoint=endpoint, samples=samples,
                       example=example_params(endpoint, samples), example_url=example_url(endpoint, samples),
                       base=base, answer=answer, body=samples.fill(endpoint.body) if endpoint.body else "")


def example_answer(page: Page, endpoint: Endpoint, samples: Samples) -> dict:
    """The example's answer from this install, as the caller's own permissions give it."""
    from crashflow.query_app import API_ROUTES  # the routing map names each path's function

    handler = next(route.handler for route in API_ROUTES if route.path == endpoint.path)
    try:
        if endpoint.path == "/__heartbeat__":
            reply = handler(page.services, page.call)
        else:
            reply = page.ask(handler, example_params(endpoint, samples))
        status, body = reply.status, reply.body
    except ApiError as error:
        status, body = error.status, {"error": str(error)}
    text = json.dumps(body, indent=2, default=str, ensure_ascii=False)
    cut = len(text) > EXAMPLE_ANSWER_CHARS
    return {"status": status, "text": text[:EXAMPLE_ANSWER_CHARS], "cut": cut, "length": len(text)}


# -- the data dictionary

DOCUMENTS = {"supersearch": "SuperSearch fields", "processed_crash": "Processed crash", "raw_crash": "Raw crash"}


def data_dictionary_page(page: Page) -> Reply:
    document = page.args.get("document") or "supersearch"
    if document not in DOCUMENTS:
        raise BadRequest(f"no document {document[:40]!r}; documents: {', '.join(DOCUMENTS)}")
    values = dict(nav="documentation", document=document, documents=DOCUMENTS)
    if document == "supersearch":
        described = page.ask(fields_endpoint.super_search_fields).body
        values["search_fields"] = sorted(described.values(), key=lambda item: item["name"])
    else:
        definitions = getattr(page.services.fields, document)
        values["crash_fields"] = [
            {"path": path, "types": ", ".join(node.types), "description": node.description,
             "public": visible, "origin": node.origin}
            for path, node, visible in definitions.walk()]
    return page.render("datadictionary.html", **values)
