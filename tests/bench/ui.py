"""Web UI benchmark: server time per page under 4 concurrent clients, and each page's weight.

Loads query.py's data set in a namespace of its own (dropped at the end): ``--reports``
report rows over 30 days (reportgen's COPY loader), the signatures job's first dates, and
``--crashes`` synthetic processed crashes in HBase. Then, with ``--clients`` clients at once
against a query function served as deployed (``crashflow serve``: its gunicorn with
``CRASHFLOW_QUERY_WORKERS`` processes, 2 by default), measures each page (goal: p95 <= 300 ms):

- report: ``/report/index/<id>``, the details tab (one HBase read, the signature's bugs),
  and each tab a triager opens next, each a page of its own: ``report_crashing_thread``,
  ``report_threads``, ``report_modules``, ``report_raw`` (the raw annotations: a second read)
- signature, 7 days: ``/signature/?signature=S&product=P`` (the summary tab: six splits,
  first and last seen), for signatures drawn by their crash counts
- search with 3 filters and a facet: product, version, platform, the last 7 days, signatures
- search page 10: a product's last 7 days, page 10 at 50 a page
- home ``/`` (goal: p95 <= 150 ms)
- product home ``/home/product/P?days=7|14|28`` (goal: p95 <= 150 ms)
- top crashers ``/topcrashers/?product=P&days=1|3|7|14|28`` (goal: p95 <= 100 ms)

The overview pages read the aggregation jobs' tables (crashes_per_day, top_crashers,
signatures and explosiveness are run over the 30 days first; each run precomputes the
pages' answers, ``crashflow.api.answers``, and the bench precomputes them once more, timed,
as the aggregate function does after a run). They are measured three ways: as deployed
(each process keeps answers in memory, ``CRASHFLOW_API_AGGREGATES_CACHE_SECONDS``, 60 s,
over the precomputed ones); ``*_uncached``, that memory off: every request reads the
precomputed answers from Postgres; and ``*_computed``, the precomputed answers not read
either (``CRASHFLOW_API_PRECOMPUTED_ANSWERS=false``): every request computes every answer
afresh, as a page asking what no run precomputed (a filtered ranking) does.

Then the bytes of each page's HTML + CSS + JS as a browser fetches them, uncompressed (goal
<= 300 KB), for those pages and the tokens page, the API documentation, an endpoint's page
and the data dictionary.

    .venv/bin/python tests/bench/ui.py [--reports 1000000 --crashes 10000 --clients 4]

``--keep`` leaves the namespace's data, and ``--reuse`` measures again over what a kept run
left (the same data set, without the minutes of loading; it keeps the data too).

Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pg8000.native
import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from conftest import FunctionServer, free_port  # noqa: E402
from query import drop_namespace, load_crashes, run_clients  # noqa: E402
from reportgen import PRODUCTS, load_reports  # noqa: E402

from crashflow.provision import provision  # noqa: E402
from crashflow.settings import Settings  # noqa: E402
from crashflow.stores import layout  # noqa: E402
from crashflow.stores.hbase import CRASH_REPORTS, CrashTable  # noqa: E402
from crashflow.stores.postgres import Database  # noqa: E402
from crashflow.tokens import TokenStore  # noqa: E402
from crashflow.web.precompute import precompute  # noqa: E402

REPO = HERE.parents[1]
ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"')
GOAL_MS = 300
# The overview pages' own goals (issue #13); the others keep GOAL_MS.
GOALS_MS = {f"{page}{way}": goal for page, goal in (("home", 150), ("product_home", 150), ("top_crashers", 100))
            for way in ("", "_uncached", "_computed")}
GOAL_BYTES = 300 * 1024
# The report page's tabs measured besides its details tab (page name: tab).
REPORT_TABS = {"crashing_thread": "crashing", "threads": "threads", "modules": "modules", "raw": "raw"}
OVERVIEW_JOBS = ("crashes_per_day", "top_crashers", "signatures", "explosiveness")


def page_weight(base: str, path: str, headers: dict | None = None) -> dict:
    """Bytes of the page and of the stylesheets and scripts it loads."""
    html = requests.get(f"{base}{path}", headers=headers or {}, timeout=60)
    assert html.status_code == 200, (path, html.status_code)
    assets = {url: len(requests.get(f"{base}{url}", timeout=60).content) for url in ASSET.findall(html.text)}
    return {"html_bytes": len(html.content), "css_js_bytes": sum(assets.values()),
            "total_bytes": len(html.content) + sum(assets.values()), "assets": len(assets)}


def signatures_by_size(database: Database, product: str, since: dt.date) -> dict[str, list[str]]:
    """The product's signatures of the last 7 days by crash count: the top 20 (thousands
    of crashes each), middling ones (100-1000) and small ones (10-30)."""
    with database.connection() as connection:
        rows = connection.run(
            "SELECT signature, count(*) FROM reports WHERE product = :product AND date_processed >= :since "
            "GROUP BY 1 ORDER BY 2 DESC", product=product, since=since)
    return {
        "top": [s for s, _ in rows[:20]],
        "middling": [s for s, n in rows if 100 <= n <= 1000][:50],
        "small": [s for s, n in rows if 10 <= n <= 30][:50],
        "counts": {s: n for s, n in rows},
    }


def kept_crash_ids(settings: Settings, count: int) -> list[str]:
    """The ids of the processed crashes a kept run loaded into HBase."""
    with CrashTable(settings).pool.connection() as connection:
        rows = connection.table(CRASH_REPORTS).scan(columns=[b"ids:ooid"], limit=count)
        return [layout.crash_id_of_row_key(key) for key, _ in rows]


def vacuum(settings: Settings) -> None:
    """What autovacuum does after a bulk load, on a connection without the stores' 30 s
    socket timeout (a million rows take longer on a busy machine)."""
    connection = pg8000.native.Connection(user=settings.pg_user, password=settings.pg_password,
                                          host=settings.pg_host, port=settings.pg_port,
                                          database=settings.database, timeout=None)
    try:
        connection.run("VACUUM ANALYZE reports")
    finally:
        connection.close()


def load(settings: Settings, args, env: dict, today: dt.date, report: dict) -> list[str]:
    """query.py's data set in the namespace: report rows, the overview's jobs, processed crashes."""
    drop_namespace(settings)  # what an interrupted run left
    provision(settings)
    database = Database(settings)
    started = time.perf_counter()
    load_reports(database, args.reports, 30, today, seed=1)
    vacuum(settings)
    report["load_reports_s"] = round(time.perf_counter() - started, 1)
    report["jobs_s"] = {}
    for job in OVERVIEW_JOBS:
        started = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "crashflow"), "aggregate", "run", job,
                        "--from", str(today - dt.timedelta(days=29)), "--to", str(today)],
                       env=env, check=True, capture_output=True)
        report["jobs_s"][job] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    crash_ids = load_crashes(settings, args.crashes)
    report["load_crashes_s"] = round(time.perf_counter() - started, 1)
    return crash_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="cfuibench")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--crashes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="per client and page")
    parser.add_argument("--keep", action="store_true", help="keep the namespace's data afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure over the data a --keep run left")
    parser.add_argument("--pages", default="", help="measure only these pages (comma-separated names)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    settings = Settings(namespace=args.namespace)
    env = dict(os.environ, CRASHFLOW_NAMESPACE=settings.namespace, CRASHFLOW_API_RATE_LIMIT_PER_MINUTE="0",
               CRASHFLOW_API_TOKEN_RATE_LIMIT_PER_MINUTE="0")
    report: dict = {"namespace": settings.namespace, "reports": args.reports, "crashes": args.crashes,
                    "clients": args.clients, "requests_per_client": args.requests}
    servers = []
    try:
        today = dt.datetime.now(dt.timezone.utc).date()
        database = Database(settings)
        chosen = [name for name in args.pages.split(",") if name]
        if args.reuse:
            provision(settings)  # the schema of this version (migrations since the kept run)
            # (a copy of a kept namespace's database alone has no HBase table to read)
            crash_ids = kept_crash_ids(settings, args.crashes) if not chosen or any(name.startswith("report") for name in chosen) else []
            report["reused"] = True
        else:
            crash_ids = load(settings, args, env, today, report)
        # What the aggregate function does after a run (a kept run of an older version
        # has no precomputed answers: the first time, each is computed).
        report["precompute"] = precompute(settings, database)

        query = FunctionServer("query", free_port(), env)
        servers.append(query)
        uncached = FunctionServer("query", free_port(), dict(env, CRASHFLOW_API_AGGREGATES_CACHE_SECONDS="0"))
        servers.append(uncached)
        computed = FunctionServer("query", free_port(), dict(env, CRASHFLOW_API_AGGREGATES_CACHE_SECONDS="0",
                                                             CRASHFLOW_API_PRECOMPUTED_ANSWERS="false"))
        servers.append(computed)
        for server in servers:
            server.wait_ready()
        base = query.url
        for server in servers:
            requests.get(f"{server.url}/__heartbeat__", timeout=60)  # builds the application before timing
        week = (today - dt.timedelta(days=6)).isoformat()
        sizes = signatures_by_size(database, "Firefox", today - dt.timedelta(days=6))
        drawn = sizes["top"] + sizes["middling"] + sizes["small"]
        builds = [(product, version) for product, versions in PRODUCTS.items() for version, *_ in versions]
        platforms = ["Windows NT", "Linux", "Mac OS X"]

        pages = {
            "report": lambda rng: ("GET", f"{base}/report/index/{rng.choice(crash_ids)}", None),
            **{f"report_{name}": lambda rng, tab=tab: ("GET", f"{base}/report/index/{rng.choice(crash_ids)}",
                                                       {"tab": tab})
               for name, tab in REPORT_TABS.items()},
            "signature_7_days": lambda rng: ("GET", f"{base}/signature/",
                                             {"signature": rng.choice(drawn), "product": "Firefox"}),
            "search_3_filters_facet": lambda rng: ("GET", f"{base}/search/", [
                *zip(("product", "version"), rng.choice(builds)), ("platform", rng.choice(platforms)),
                ("date", f">={week}"), ("_facets", "signature")]),
            "search_page_10": lambda rng: ("GET", f"{base}/search/", [
                ("product", rng.choice(["Firefox", "Thunderbird"])), ("date", f">={week}"), ("page", "10")]),
        }
        products = list(PRODUCTS)
        for suffix, server in (("", query), ("_uncached", uncached), ("_computed", computed)):
            url = server.url
            pages.update({
                f"home{suffix}": lambda rng, url=url: ("GET", f"{url}/", None),
                f"product_home{suffix}": lambda rng, url=url: (
                    "GET", f"{url}/home/product/{rng.choice(products)}", {"days": rng.choice([7, 14, 28])}),
                f"top_crashers{suffix}": lambda rng, url=url: (
                    "GET", f"{url}/topcrashers/", {"product": rng.choice(products),
                                                   "days": rng.choice([1, 3, 7, 14, 28])}),
            })
        examples = {
            "report": f"/report/index/{crash_ids[0]}" if crash_ids else None,
            **{f"report_{name}": f"/report/index/{crash_ids[0]}?tab={tab}" if crash_ids else None
               for name, tab in REPORT_TABS.items()},
            "signature_7_days": "/signature/?" + requests.compat.urlencode({"signature": sizes["top"][0],
                                                                            "product": "Firefox"}),
            "search_3_filters_facet": "/search/?" + requests.compat.urlencode([
                ("product", "Firefox"), ("version", "121.0"), ("platform", "Windows NT"), ("date", f">={week}"),
                ("_facets", "signature")]),
            "search_page_10": f"/search/?product=Firefox&date=%3E%3D{week}&page=10",
            "home": "/",
            "product_home": "/home/product/Firefox?days=28",
            "top_crashers": "/topcrashers/?product=Firefox&days=28",
        }
        for name in ("home", "product_home", "top_crashers"):
            examples[f"{name}_uncached"] = examples[f"{name}_computed"] = examples[name]
        report["load_before"] = os.getloadavg()
        report["pages"] = {}
        for name in chosen or list(pages):
            make_request = pages[name]
            report["pages"][name] = run_clients(args.clients, args.requests, make_request)
            report["pages"][name]["weight"] = page_weight(base, examples[name])
        report["load_after_pages"] = os.getloadavg()
        admin = TokenStore(database).create(["manage_tokens"], note="ui bench")
        report["weights"] = {
            "tokens": page_weight(base, "/tokens/", {"Auth-Token": admin}),
            "documentation": page_weight(base, "/documentation/"),
            "documentation_supersearch": page_weight(base, "/documentation/api/SuperSearch"),
            "data_dictionary": page_weight(base, "/documentation/datadictionary/"),
            "data_dictionary_processed_crash": page_weight(base, "/documentation/datadictionary/?document=processed_crash"),
            "data_dictionary_raw_crash": page_weight(base, "/documentation/datadictionary/?document=raw_crash"),
        }

        report["load_end"] = os.getloadavg()
        report["goals_met"] = {
            **{f"{name}_p95_ms<={GOALS_MS.get(name, GOAL_MS)}":
               result.get("p95_ms", 1e9) <= GOALS_MS.get(name, GOAL_MS) and not result.get("errors")
               for name, result in report["pages"].items()},
            **{f"{name}_bytes<={GOAL_BYTES}": result["weight"]["total_bytes"] <= GOAL_BYTES
               for name, result in report["pages"].items()},
            **{f"{name}_bytes<={GOAL_BYTES}": weight["total_bytes"] <= GOAL_BYTES
               for name, weight in report["weights"].items()},
        }
    finally:
        for server in servers:
            server.stop()
        if not (args.keep or args.reuse):
            report["cleanup_problems"] = drop_namespace(settings)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
