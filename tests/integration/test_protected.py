"""Protected by default, end to end: crashes go through the real collect and process
functions (or, for every field of Socorro's processed-crash schema, straight into HBase),
and every way a value can leave the query function is asked, anonymously, with tokens
without ``view_pii``, and with ``view_pii``.

- Every field of both schemas: an anonymous request sees it exactly when it is public.
- Random unknown annotation names and values (hypothesis) never appear in any answer an
  anonymous request (or a token without view_pii) gets: every endpoint, every SuperSearch
  parameter, every page, the search page's CSV export; nor in the functions' logs at INFO.
- With ``view_pii`` everything appears.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import time
import urllib.parse

import markupsafe
import pytest
import requests
from hypothesis import HealthCheck, Phase, assume, example, given, settings, strategies as st

from conftest import DATA, REPO
from crashflow.collector.submit import ANNOTATION_ALIASES, QUERY_ANNOTATIONS
from crashflow.fields import default_definitions
from crashflow.processor.rules import COLLECTOR_KEYS, RESERVED_KEYS
from crashflow.schemas import load_schema
from crashflow.stores.hbase import CrashTable
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore
from schema_walk import schema_paths
from test_query_api import start_query_server

pytestmark = pytest.mark.integration

DEFINITIONS = default_definitions()
SEARCH_FIELDS = DEFINITIONS.search_fields
PUBLIC_SEARCH_FIELDS = [name for name, f in SEARCH_FIELDS.items() if f.public]
PROTECTED_SEARCH_FIELDS = [name for name, f in SEARCH_FIELDS.items() if not f.public]
# A value no crash has, for each kind of field: a negated filter on it keeps every crash.
NOWHERE = {"text": "!zz-no-such-value", "integer": "!-987654321", "timestamp": "!1971-01-01",
           "boolean": "!__null__"}
LOG_NAMES = ("collect", "process", "query", "aggregate")
LOGS = REPO / ".local" / "logs"
NOTICE = "— sign in with a token that has view_pii"  # after "N fields hidden (names)"


@pytest.fixture(scope="module")
def api(stack, functions):
    server = start_query_server(stack, functions, api_rate_limit_per_minute=0, api_token_rate_limit_per_minute=0,
                                api_token_cache_seconds=60, api_aggregates_cache_seconds=0)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def tokens(stack):
    store = TokenStore(Database(stack))
    return {"pii": store.create(["view_pii"]), "none": store.create([]),
            "others": store.create(["view_rawdump", "reprocess_crashes"])}


@pytest.fixture(scope="module")
def product():
    return f"Protected{time.time_ns()}"


@pytest.fixture(scope="module")
def log_offsets():
    """Where each function's log ends before this module's crashes (the logs are appended to)."""
    return {name: (LOGS / f"test-{name}.log").stat().st_size if (LOGS / f"test-{name}.log").exists() else 0
            for name in LOG_NAMES}


def submit(functions, product: str, annotations: dict, dump: str | None = "linux-mini.dmp",
           as_json: bool = False) -> str:
    """Send a crash; ``as_json``: the annotations in one JSON part (as Crashpad and Firefox
    send them), not one form field each."""
    files = {"upload_file_minidump": (dump, (DATA / "minidumps" / dump).read_bytes())} if dump else {}
    annotations = {"ProductName": product, "Version": "1.0", **annotations}
    if as_json:
        files["extra"] = (None, json.dumps(annotations), "application/json")
    else:  # form fields of a multipart body, as Breakpad sends them
        files.update((name, (None, value.encode())) for name, value in annotations.items())
    answer = requests.post(f"{functions['collect'].url}/submit", timeout=30, files=files)
    assert answer.status_code == 200, answer.text
    return answer.text.strip().removeprefix("CrashID=bp-")


def process(functions, crash_id: str) -> None:
    answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    assert answer.status_code == 200, answer.text


def get(api, path, token=None, **params):
    return requests.get(f"{api}{path}", params=params, headers={"Auth-Token": token} if token else {}, timeout=60)


def search(api, token, *pairs):
    return requests.get(f"{api}/api/SuperSearch/", params=list(pairs),
                        headers={"Auth-Token": token} if token else {}, timeout=60)


# --- Every field of both schemas ---------------------------------------------------------

def merged(target: dict, steps, value) -> None:
    """Put ``value`` at ``steps`` in ``target`` (an array holds one object, shared by the
    paths through it); a path through a field set as a value earlier is skipped."""
    node = target
    for index, (key, is_array) in enumerate(steps):
        if index == len(steps) - 1:
            if key not in node:
                node[key] = [value] if is_array else value
            return
        if is_array:
            items = node.setdefault(key, [{}])
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                return
            node = items[0]
        else:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                return
            node = child


def leaf_at(document, steps):
    for key, is_array in steps:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
        if is_array and isinstance(document, list):
            document = document[0] if document else None
    return document


def test_every_processed_crash_field_is_seen_exactly_when_public(api, stack, tokens):
    """A processed crash with every field of Socorro's schema set (a field holding others
    through them), stored in HBase as the processor stores one."""
    crash_id = "e0e0e0e0-0000-4000-8000-000000261130"
    paths = schema_paths(load_schema("processed_crash"))
    parents = {tuple(key for key, _ in steps[:-1]) for steps, _ in paths}
    leaves = [(steps, public) for steps, public in paths if tuple(key for key, _ in steps) not in parents]
    document: dict = {"uuid": crash_id}
    values = {}
    for number, (steps, _) in enumerate(leaves):
        values[number] = f"value-{number}-" + ".".join(key for key, _ in steps)
        merged(document, steps, values[number])
    CrashTable(stack).put_processed_crash(crash_id, {"uuid": crash_id}, document)
    anonymous = get(api, "/api/ProcessedCrash/", crash_id=crash_id).json()
    without = get(api, "/api/ProcessedCrash/", tokens["others"], crash_id=crash_id).json()
    full = get(api, "/api/ProcessedCrash/", tokens["pii"], crash_id=crash_id).json()
    assert anonymous == without
    checked = 0
    for number, (steps, public) in enumerate(leaves):
        if leaf_at(document, steps) != values[number]:
            continue  # a field that holds others: checked through them
        checked += 1
        assert (leaf_at(anonymous, steps) == values[number]) is public, steps
    assert checked > 500
    assert full == document  # view_pii: everything, as stored
    assert {"url", "user_comments", "mdsw_stderr", "breadcrumbs", "moz_crash_reason_raw"} <= set(
        anonymous["_withheld"]["fields"])
    assert anonymous["_withheld"]["unlisted"] == 0  # every field sent is a schema's


def test_every_raw_crash_field_is_seen_exactly_when_public(api, functions, product, tokens):
    """A crash sent with every annotation of Socorro's raw-crash schema (the collector adds
    ``metadata``, ``uuid`` and ``submitted_timestamp`` itself)."""
    schema = load_schema("raw_crash")
    annotations = {name: f"value-of-{name}" for name in schema["properties"]
                   if name not in COLLECTOR_KEYS and name not in ("ProductName", "Version")}
    crash_id = submit(functions, product, annotations, as_json=True)  # more than CRASHFLOW_MAX_PARTS
    anonymous = get(api, "/api/RawCrash/", crash_id=crash_id).json()
    full = get(api, "/api/RawCrash/", tokens["pii"], crash_id=crash_id).json()
    assert get(api, "/api/RawCrash/", tokens["others"], crash_id=crash_id).json() == anonymous
    for name, value in annotations.items():
        public = schema["properties"][name]["permissions"] == ["public"]
        assert (anonymous.get(name) == value) is public, name
        assert (name in anonymous["_withheld"]["fields"]) is not public, name
        assert full[name] == value
    assert "metadata" not in anonymous and "metadata" in anonymous["_withheld"]["fields"]
    assert full["metadata"]["user_agent"].startswith("python-requests")
    assert anonymous["uuid"] == crash_id and anonymous["_withheld"]["unlisted"] == 0


# --- Random unknown annotations ----------------------------------------------------------

def is_unknown(name: str) -> bool:
    known = set(ANNOTATION_ALIASES) | {alias for aliases in ANNOTATION_ALIASES.values() for alias in aliases}
    known |= set(QUERY_ANNOTATIONS) | set(QUERY_ANNOTATIONS.values()) | RESERVED_KEYS | COLLECTOR_KEYS
    return (DEFINITIONS.raw_crash.field(name) is None and name not in known
            and not name.lower().startswith("upload_file_minidump"))


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{7,39}", fullmatch=True).filter(is_unknown)
VALUES = st.text(st.characters(exclude_categories=("Cs",)), min_size=8, max_size=80)
SECRETS = st.dictionaries(NAMES, VALUES, min_size=1, max_size=3)
# Every secret any example sent, for the checks after all the examples.
SENT: list[str] = []


def encodings(secret: str) -> set[str]:
    """The ways an answer could carry ``secret``: as is, in JSON, in HTML, in a URL."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             html.escape(secret), str(markupsafe.escape(secret)), urllib.parse.quote(secret),
             urllib.parse.quote_plus(secret)}
    return {form for form in forms if len(form) >= 8}


def leaked(bodies: dict[str, str], secrets) -> list[tuple[str, str]]:
    return [(where, secret) for secret in secrets for where, body in bodies.items()
            if any(form in body for form in encodings(secret))]


def anonymous_bodies(api, crash_id: str, product: str, token: str | None, others_token: str = "") -> dict[str, str]:
    """Every answer a caller without view_pii can get about the crash, by what was asked
    (``others_token``: the token with view_rawdump and reprocess_crashes)."""
    processed = get(api, "/api/ProcessedCrash/", token, crash_id=crash_id)
    assert processed.status_code == 200, processed.text
    signature = processed.json()["signature"]
    asked = {
        "ProcessedCrash": processed,
        "RawCrash": get(api, "/api/RawCrash/", token, crash_id=crash_id),
        "RawCrash meta": get(api, "/api/RawCrash/", token, crash_id=crash_id, format="meta"),
        "RawCrash raw": get(api, "/api/RawCrash/", token, crash_id=crash_id, format="raw", name="upload_file_minidump"),
        "SuperSearchFields": get(api, "/api/SuperSearchFields/", token),
        "Bugs": get(api, "/api/Bugs/", token, signatures=signature),
        "SignaturesByBugs": get(api, "/api/SignaturesByBugs/", token, bug_ids="1"),
        "SignatureFirstDate": get(api, "/api/SignatureFirstDate/", token, signatures=signature),
        "TopCrashers": get(api, "/api/TopCrashers/", token, product=product),
        "CrashesPerDay": get(api, "/api/CrashesPerDay/", token, product=product),
        "AggregationJobs": get(api, "/api/AggregationJobs/", token),
        "Alerts": get(api, "/api/Alerts/", token, product=product),
        "report page": get(api, f"/report/index/{crash_id}", token),
        "search page": get(api, "/search/", token, product=product),
        "signature page": get(api, "/signature/", token, signature=signature),
        "top crashers page": get(api, "/topcrashers/", token, product=product),
        # The CSV export, asked for every column there is (protected ones are not offered).
        "search CSV": get(api, "/search/results.csv", token, uuid=crash_id, _columns=",".join(["uuid", *SEARCH_FIELDS])),
        "heartbeat": get(api, "/__heartbeat__", token),
        "no such endpoint": get(api, "/api/NoSuchEndpoint/", token),
    }
    headers = {"Auth-Token": token} if token else {}
    asked["CrashSignature"] = requests.post(f"{api}/api/CrashSignature/", json={"jobs": [processed.json()]},
                                            headers=headers, timeout=60)
    asked["Reprocessing"] = requests.post(f"{api}/api/Reprocessing/", data={"crash_ids": crash_id},
                                          headers=headers, timeout=60)
    # SuperSearch: every parameter over every field. The public fields all at once...
    everything = [("uuid", crash_id), ("_columns", ",".join(SEARCH_FIELDS)),
                  ("_facets", ",".join(PUBLIC_SEARCH_FIELDS)), ("_aggs.product", ",".join(PUBLIC_SEARCH_FIELDS)),
                  ("_histogram.date", ",".join(PUBLIC_SEARCH_FIELDS)), ("_histogram.uptime", "signature"),
                  ("_sort", ",".join(PUBLIC_SEARCH_FIELDS))]
    everything += [(f"_cardinality.{name}", "") for name in PUBLIC_SEARCH_FIELDS]
    asked["SuperSearch, every public field"] = search(api, token, *everything)
    # ... every field as a filter (one that keeps the crash) ...
    for name, search_field in SEARCH_FIELDS.items():
        asked[f"SuperSearch filter {name}"] = search(api, token, ("uuid", crash_id), (name, NOWHERE[search_field.kind]))
    # ... and every protected field in each other parameter (refused).
    for name in PROTECTED_SEARCH_FIELDS:
        for param, value in (("_facets", name), ("_sort", name), ("_aggs.signature", name),
                             (f"_aggs.{name}", "product"), (f"_cardinality.{name}", ""), ("_histogram.date", name)):
            asked[f"SuperSearch protected {param}={value}"] = search(api, token, ("uuid", crash_id), (param, value))
    others = token is not None and token == others_token
    for where, answer in asked.items():
        refused = where.startswith("SuperSearch protected") or where.removeprefix("SuperSearch filter ") in \
            PROTECTED_SEARCH_FIELDS or where == "no such endpoint" or (
                where in ("RawCrash raw", "Reprocessing") and not others)  # their own permissions
        expected = (403, 404) if refused else (200, 404) if where == "RawCrash raw" else (200,)  # 404: no dump
        assert answer.status_code in expected, (where, answer.status_code, answer.text[:300])
    csv_rows = list(csv.reader(io.StringIO(asked["search CSV"].text)))
    assert not set(csv_rows[0]) & set(PROTECTED_SEARCH_FIELDS) and csv_rows[1][csv_rows[0].index("uuid")] == crash_id
    everything = asked["SuperSearch, every public field"].json()
    assert everything["total"] == 1 and set(everything["_withheld"]["fields"]) == set(PROTECTED_SEARCH_FIELDS)
    return {where: answer.text for where, answer in asked.items()}


class Baseline(str):
    def __repr__(self) -> str:
        return f"<baseline: {len(self)} characters>"


@pytest.fixture(scope="module")
def baseline(api, functions, product):
    """Everything an anonymous caller gets about a crash without secrets: a secret drawn
    that is in it already (say, "00000000") could not tell a leak from a coincidence."""
    crash_id = submit(functions, product, {})
    process(functions, crash_id)
    return Baseline("\n".join(anonymous_bodies(api, crash_id, product, None).values()))


# No shrinking: an example takes seconds (a crash collected, processed and asked ~80 ways),
# and a failing one names where the secret showed.
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secrets=SECRETS, with_dump=st.booleans(), caller=st.sampled_from([None, "none", "others"]))
@example(secrets={"CustomerEmail": "alice@example.com", "AccessToken": "sk_live_123"}, with_dump=True,
         caller=None)  # the crash of issue 15
def test_unknown_annotations_reach_no_one_without_view_pii(api, functions, product, tokens, baseline,
                                                         log_offsets, secrets, with_dump, caller):
    every = [*secrets, *secrets.values()]
    assume(not any(form in baseline or form in product for secret in every for form in encodings(secret)))
    SENT.extend(every)
    crash_id = submit(functions, product, secrets, "linux-mini.dmp" if with_dump else None)
    process(functions, crash_id)

    bodies = anonymous_bodies(api, crash_id, product, tokens.get(caller), tokens["others"])
    assert leaked(bodies, every) == []
    raw = json.loads(bodies["RawCrash"])
    assert raw["_withheld"]["unlisted"] == len(secrets)
    assert NOTICE in bodies["report page"]

    # With view_pii every annotation is there as sent, on the report page too.
    full = get(api, "/api/RawCrash/", tokens["pii"], crash_id=crash_id).json()
    assert {name: full[name] for name in secrets} == secrets and "_withheld" not in full
    page = get(api, f"/report/index/{crash_id}", tokens["pii"], tab="raw").text  # the annotations' tab
    assert all(str(markupsafe.escape(name)) in page and str(markupsafe.escape(value)) in page
               for name, value in secrets.items())
    assert NOTICE not in page


def test_unknown_annotations_stay_out_of_aggregates_and_logs(api, functions, product, log_offsets):
    """After every example: the aggregate jobs over today's crashes, the aggregate answers
    and pages, and the functions' logs (INFO and up) hold none of the secrets."""
    assert SENT, "the hypothesis examples ran first"
    headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping", "ce-source": "test",
               "ce-id": "1", "content-type": "application/json"}
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    for job in ("crashes_per_day", "top_crashers", "signatures", "correlations", "explosiveness"):
        answer = requests.post(functions["aggregate"].url, headers=headers, timeout=300,
                               data=json.dumps({"job": job, "date": today}))
        assert answer.status_code == 200, (job, answer.text)
    asked = {
        "TopCrashers": get(api, "/api/TopCrashers/", product=product, days=1),
        "CrashesPerDay": get(api, "/api/CrashesPerDay/", product=product),
        "top crashers page": get(api, "/topcrashers/", product=product, days=1),
        "search page": get(api, "/search/", product=product),
    }
    assert all(answer.status_code == 200 for answer in asked.values())
    bodies = {where: answer.text for where, answer in asked.items()}
    assert json.loads(bodies["TopCrashers"])["total"] >= len(SENT) // 6  # the examples' crashes were counted
    for name in LOG_NAMES:
        path = LOGS / f"test-{name}.log"
        if path.exists():
            with path.open("rb") as log:
                log.seek(log_offsets[name])
                bodies[f"{name} log"] = log.read().decode("utf-8", "replace")
    assert leaked(bodies, SENT) == []


# --- An installation's own public annotations ---------------------------------------------

def test_an_installations_public_annotations_are_shown_and_checked_at_start_up(stack, functions, product):
    server = start_query_server(stack, functions, public_annotations='["BuildFlavor"]')
    try:
        crash_id = submit(functions, product, {"BuildFlavor": "nightly-asan", "CustomerEmail": "alice@example.com"})
        raw = get(server.url, "/api/RawCrash/", crash_id=crash_id).json()
        assert raw["BuildFlavor"] == "nightly-asan" and "CustomerEmail" not in raw
    finally:
        server.stop()
    log = LOGS / "test-query.log"
    start = log.stat().st_size
    for bad, reason in (('["URL"]', "URL is protected by Socorro's raw crash schema"),
                        ('["processed_crash.nope"]', "is not a field the definitions list")):
        setting = "protected_fields" if "processed_crash" in bad else "public_annotations"
        with pytest.raises(RuntimeError, match="exited"):
            start_query_server(stack, functions, **{setting: bad})
        assert reason in log.read_bytes()[start:].decode(errors="replace")
