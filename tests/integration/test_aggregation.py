"""Golden tests of the aggregation jobs on real Postgres, HBase and moto S3: a small set of
reports whose counts are known by hand, around the October/November month end.

Product "Golden":
- S: one crash a day 2026-10-23..31, then a spike of 40 on 11-01 (30 Windows, 10 macOS, 4 hangs)
- A: 10-31 00:00:00 (Windows), 12:00 (Linux, hang), 23:59:59.999999 (Windows, 2.0, content),
  and 11-01 00:00:00 (Windows): the midnight edges
- B: 10-31 once (macOS); C: first seen 11-01 13:00 (Android, build 20261101000000)
- 11-02 and 11-03: no crashes at all
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from click.testing import CliRunner
from conftest import REPO, TEST_NAMESPACE, FunctionServer, free_port

from crashflow.aggregation.runner import _lock_key, run_job, run_jobs
from crashflow.aggregation.signatures import new_signatures
from crashflow.api.topcrashers import ranked_top_crashers
from crashflow.crashids import create_crash_id
from crashflow.stores.factory import Stores

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
DATA = Path(__file__).resolve().parents[1] / "data" / "bugzilla"
D = dt.date


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def report(when: dt.datetime, signature: str, product: str = "Golden", version: str = "1.0",
           os_name: str = "Windows NT", process_type: str = "parent", report_type: str = "crash",
           install_time: int | None = None, build: str = "20261001000000", crash_id: str | None = None) -> dict:
    return {
        "uuid": crash_id or create_crash_id(when), "date_processed": when, "product": product,
        "version": version, "os_name": os_name, "process_type": process_type,
        "report_type": report_type, "install_time": install_time, "build": build, "signature": signature,
    }


def golden_reports() -> list[dict]:
    rows = [report(at(2026, 10, day, 12), "S") for day in range(23, 32)]
    for i in range(40):
        rows.append(report(at(2026, 11, 1, 6, i), "S", os_name="Mac OS X" if i % 4 == 0 else "Windows NT",
                           report_type="hang" if i < 4 else "crash"))
    rows += [
        report(at(2026, 10, 31), "A", install_time=100),
        report(at(2026, 10, 31, 12), "A", os_name="Linux", report_type="hang", install_time=100),
        report(at(2026, 10, 31, 23, 59, 59, 999999), "A", version="2.0", process_type="content",
               install_time=200, build="20261015000000"),
        report(at(2026, 11, 1), "A", install_time=300),
        report(at(2026, 10, 31, 8), "B", os_name="Mac OS X"),
        report(at(2026, 11, 1, 13), "C", os_name="Android", build="20261101000000"),
    ]
    return rows


@pytest.fixture(scope="module")
def own_stack(settings):
    """A namespace of this module's own: the jobs read and rebuild whole tables (and
    retention deletes across the namespace), whatever other modules stored in theirs."""
    from crashflow.provision import provision
    from crashflow.stores import postgres

    own = settings.model_copy(update={"namespace": f"{settings.namespace}agg"})
    admin = postgres.connect(own, database="postgres")
    try:
        admin.run(f"DROP DATABASE IF EXISTS {own.database} WITH (FORCE)")
    finally:
        admin.close()
    provision(own)
    return own


def job_stores(settings) -> Stores:
    return Stores.from_settings(settings, "jobs")


@pytest.fixture(scope="module")
def database(own_stack):
    """The module's stores, with the golden reports."""
    stores = job_stores(own_stack.model_copy(update={"explosiveness_floor": 1.0}))
    for row in golden_reports():
        stores.reports.upsert_report(row)
    return stores


@pytest.fixture(scope="module")
def backfilled(database):
    """Every day job run over the whole range once, as ``--from 2026-10-23 --to 2026-11-03``."""
    for name in ("crashes_per_day", "top_crashers", "signatures", "explosiveness"):
        run = run_job(database, name, D(2026, 10, 23), D(2026, 11, 3))
        assert (run.status, run.error) == ("ok", None)
    return database


def query(stores, sql, **params):
    with stores.reports.connection() as connection:
        return [tuple(row) for row in connection.run(sql, **params)]


def test_crashes_per_day_counts_midnight_edges_and_empty_days(backfilled):
    rows = query(backfilled, "SELECT report_date, version, os_name, process_type, report_type, report_count "
                             "FROM crashes_per_day WHERE product = 'Golden' AND report_date >= '2026-10-31' "
                             "ORDER BY 1, 2, 3, 4, 5")
    assert rows == [
        (D(2026, 10, 31), "1.0", "Linux", "parent", "hang", 1),
        (D(2026, 10, 31), "1.0", "Mac OS X", "parent", "crash", 1),
        (D(2026, 10, 31), "1.0", "Windows NT", "parent", "crash", 2),
        (D(2026, 10, 31), "2.0", "Windows NT", "content", "crash", 1),
        (D(2026, 11, 1), "1.0", "Android", "parent", "crash", 1),
        (D(2026, 11, 1), "1.0", "Mac OS X", "parent", "crash", 9),
        (D(2026, 11, 1), "1.0", "Mac OS X", "parent", "hang", 1),
        (D(2026, 11, 1), "1.0", "Windows NT", "parent", "crash", 28),
        (D(2026, 11, 1), "1.0", "Windows NT", "parent", "hang", 3),
    ]
    assert query(backfilled, "SELECT sum(report_count) FROM crashes_per_day WHERE report_date = '2026-10-30'") == [(1,)]


def test_top_crashers_per_day_with_platforms_hangs_and_installs(backfilled):
    rows = query(backfilled, "SELECT report_date, signature, report_count, win_count, mac_count, lin_count, "
                             "other_count, hang_count, install_count FROM top_crashers_by_product "
                             "WHERE report_date IN ('2026-10-31', '2026-11-01') ORDER BY 1, 2")
    assert rows == [
        (D(2026, 10, 31), "A", 3, 2, 0, 1, 0, 1, 2),
        (D(2026, 10, 31), "B", 1, 0, 1, 0, 0, 0, 0),
        (D(2026, 10, 31), "S", 1, 1, 0, 0, 0, 0, 0),
        (D(2026, 11, 1), "A", 1, 1, 0, 0, 0, 0, 1),
        (D(2026, 11, 1), "C", 1, 0, 0, 0, 1, 0, 0),
        (D(2026, 11, 1), "S", 40, 30, 10, 0, 0, 4, 0),
    ]
    per_version = query(backfilled, "SELECT version, process_type, report_count, win_count, hang_count, install_count "
                                    "FROM top_crashers WHERE report_date = '2026-10-31' AND signature = 'A' ORDER BY 1")
    assert per_version == [("1.0", "parent", 2, 1, 1, 1), ("2.0", "content", 1, 1, 0, 1)]


def test_ranked_top_crashers_with_rank_change_and_new(backfilled):
    with backfilled.reports.connection() as connection:
        one_day = ranked_top_crashers(connection, "Golden", days=1, end_date=D(2026, 11, 1))
        three_days = ranked_top_crashers(connection, "Golden", days=3, end_date=D(2026, 11, 2))
        seven_days = ranked_top_crashers(connection, "Golden", days=7, end_date=D(2026, 11, 1))
        version_2 = ranked_top_crashers(connection, "Golden", version="2.0", days=1, end_date=D(2026, 10, 31))
        linux = ranked_top_crashers(connection, "Golden", days=1, platform="linux", end_date=D(2026, 10, 31))
        empty = ranked_top_crashers(connection, "Golden", days=1, end_date=D(2026, 11, 3))
    assert one_day["total"] == 42 and (one_day["start_date"], one_day["end_date"]) == ("2026-11-01", "2026-11-01")
    assert [(c["rank"], c["signature"], c["count"], c["previous_rank"], c["rank_change"]) for c in one_day["crashes"]] == [
        (1, "S", 40, 2, 1), (2, "A", 1, 1, -1), (2, "C", 1, None, "new"),
    ]
    spike = one_day["crashes"][0]
    assert spike["percent_of_total"] == round(100 * 40 / 42, 4) and spike["previous_percent_of_total"] == 20.0
    assert (spike["win_count"], spike["mac_count"], spike["hang_count"]) == (30, 10, 4)
    # 10-31..11-02 against 10-28..10-30 (where only S crashed)
    assert [(c["signature"], c["count"], c["rank_change"]) for c in three_days["crashes"]] == [
        ("S", 41, 0), ("A", 4, "new"), ("B", 1, "new"), ("C", 1, "new"),
    ]
    # 7 days (10-26..11-01) against 10-19..10-25, from the 7-day sums
    assert query(backfilled, "SELECT count(DISTINCT end_date) FROM top_crashers_7_days "
                             "WHERE product = 'Golden' AND end_date IN ('2026-11-01', '2026-10-25')") == [(2,)]
    assert (seven_days["total"], seven_days["start_date"]) == (52, "2026-10-26")
    assert [(c["signature"], c["count"], c["previous_count"], c["rank_change"]) for c in seven_days["crashes"]] == [
        ("S", 46, 3, 0), ("A", 4, 0, "new"), ("B", 1, 0, "new"), ("C", 1, 0, "new"),
    ]
    assert (seven_days["crashes"][0]["win_count"], seven_days["crashes"][1]["install_count"]) == (36, 3)
    assert [(c["signature"], c["count"], c["install_count"]) for c in version_2["crashes"]] == [("A", 1, 1)]
    assert [(c["signature"], c["count"]) for c in linux["crashes"]] == [("A", 1)] and linux["total"] == 1
    assert empty["crashes"] == [] and empty["total"] == 0


def test_signatures_first_date_build_and_new_per_day(backfilled):
    assert query(backfilled, "SELECT signature, first_date, first_build FROM signatures ORDER BY 1") == [
        ("A", at(2026, 10, 31), "20261001000000"),
        ("B", at(2026, 10, 31, 8), "20261001000000"),
        ("C", at(2026, 11, 1, 13), "20261101000000"),
        ("S", at(2026, 10, 23, 12), "20261001000000"),
    ]
    with backfilled.reports.connection() as connection:
        assert [row[0] for row in new_signatures(connection, D(2026, 11, 1))] == ["C"]
        assert [row[0] for row in new_signatures(connection, D(2026, 10, 31))] == ["A", "B"]
        assert new_signatures(connection, D(2026, 11, 2)) == []


def test_explosiveness_scores_the_spike(backfilled):
    rows = query(backfilled, "SELECT signature, day_count, round(oneday::numeric, 4), round(threeday::numeric, 4) "
                             "FROM explosiveness WHERE report_date = '2026-11-01' ORDER BY oneday DESC")
    # S: (40 - 1) / max(1 - 1, floor 1); ((40+1+1)/3 - 1) / max(stddev 0, 1)
    # A: (1 - 3/9) / (3 - 3/9); (4/3 - 0) / 1.   C: 1 / 1; (1/3) / 1
    assert [(s, c, float(one), float(three)) for s, c, one, three in rows] == [
        ("S", 40, 39.0, 13.0), ("C", 1, 1.0, 0.3333), ("A", 1, 0.25, 1.3333),
    ]
    assert query(backfilled, "SELECT count(*) FROM explosiveness WHERE report_date = '2026-11-02'") == [(0,)]


def test_rerunning_days_gives_the_same_tables(backfilled):
    tables = ("crashes_per_day", "top_crashers", "top_crashers_by_product", "top_crashers_7_days", "signatures",
              "explosiveness")

    def snapshot():
        return {table: sorted(query(backfilled, f"SELECT * FROM {table}")) for table in tables}

    before = snapshot()
    for name in ("explosiveness", "signatures", "top_crashers", "crashes_per_day"):  # any order
        assert run_job(backfilled, name, D(2026, 10, 31), D(2026, 11, 1)).status == "ok"
    assert snapshot() == before


def test_runs_are_recorded_and_resume_after_the_last_success(backfilled):
    runs = query(backfilled, "SELECT window_start, window_end, status, rows_written, finished IS NOT NULL "
                             "FROM job_runs WHERE job = 'crashes_per_day' ORDER BY id")
    assert runs[0] == (D(2026, 10, 23), D(2026, 11, 3), "ok", 17, True)  # 8 days x 1 + 4 + 5
    # The last success covered up to 11-03; the next scheduled run two days on starts there.
    run = run_job(backfilled, "crashes_per_day", now=at(2026, 11, 5, 10))
    assert (run.start, run.end, run.status) == (D(2026, 11, 4), D(2026, 11, 5), "ok")


def test_a_run_that_died_is_marked_interrupted(backfilled):
    query(backfilled, "INSERT INTO job_runs (job, window_start, window_end) "
                      "VALUES ('signatures', '2026-11-01', '2026-11-01') RETURNING id")
    assert run_job(backfilled, "signatures", D(2026, 11, 1)).status == "ok"
    assert query(backfilled, "SELECT status, error FROM job_runs WHERE job = 'signatures' ORDER BY id DESC LIMIT 2") == [
        ("ok", None), ("error", "interrupted: the run stopped without recording its end"),
    ]


def test_a_job_already_running_is_skipped(backfilled):
    with backfilled.reports.connection() as holder:
        assert holder.run("SELECT pg_try_advisory_lock(:key)", key=_lock_key("top_crashers"))[0][0]
        try:
            before = query(backfilled, "SELECT count(*) FROM job_runs")
            run = run_job(backfilled, "top_crashers", D(2026, 11, 1))
            assert (run.status, run.error) == ("skipped", "already running")
            assert query(backfilled, "SELECT count(*) FROM job_runs") == before
        finally:
            holder.run("SELECT pg_advisory_unlock(:key)", key=_lock_key("top_crashers"))


def test_a_job_whose_connection_dies_keeps_its_error_and_the_next_job_runs(backfilled, monkeypatch):
    from crashflow.aggregation import runner
    from crashflow.aggregation.jobs import Job

    class DyingJob(Job):
        name = "partitions"

        def run(self, context, start, end):
            try:
                context.connection.run("SELECT pg_terminate_backend(pg_backend_pid())")
            except Exception:
                pass  # the connection is gone; the job fails with an error of its own
            raise RuntimeError("lost the database")

    with monkeypatch.context() as patch:
        patch.setitem(runner.BY_NAME, "partitions", DyingJob())
        runs = run_jobs(backfilled, "partitions")
    assert [(run.job, run.status) for run in runs] == [("partitions", "error")]
    assert runs[0].error == "RuntimeError: lost the database"  # not the failed unlock's error
    # Its error is recorded on a new connection; the dead one left the pool: the next job runs.
    assert run_job(backfilled, "partitions", now=at(2026, 11, 26)).status == "ok"
    assert query(backfilled, "SELECT status, error FROM job_runs WHERE job = 'partitions' ORDER BY id DESC LIMIT 2") == [
        ("ok", None), ("error", "RuntimeError: lost the database"),
    ]


def test_run_jobs_goes_on_when_a_job_cannot_start(backfilled, monkeypatch):
    from crashflow.aggregation import runner

    def broken(stores, name, *args, **options):
        if name == "crashes_per_day":
            raise OSError("no route to Postgres")
        return real(stores, name, *args, **options)

    real = runner.run_job
    monkeypatch.setattr(runner, "run_job", broken)
    runs = run_jobs(backfilled, "all", D(2026, 11, 1), now=at(2026, 11, 2, 12))
    assert [(run.job, run.status, run.error) for run in runs[:3]] == [
        ("partitions", "ok", None), ("crashes_per_day", "error", "OSError: no route to Postgres"),
        ("top_crashers", "ok", None),
    ]
    assert [run.job for run in runs] == list(runner.JOB_NAMES)


def test_a_failing_day_keeps_the_earlier_results_and_its_error(backfilled):
    before = query(backfilled, "SELECT * FROM crashes_per_day WHERE report_date = '2026-11-01' ORDER BY 1, 2, 3, 4, 5, 6")
    with backfilled.reports.connection() as connection:
        # A value that no longer fits crashes_per_day: the day's transaction must roll back.
        connection.run("ALTER TABLE crashes_per_day ADD CONSTRAINT golden_small CHECK (report_count < 20) NOT VALID")
    try:
        run = run_job(backfilled, "crashes_per_day", D(2026, 10, 31), D(2026, 11, 1))
    finally:
        with backfilled.reports.connection() as connection:
            connection.run("ALTER TABLE crashes_per_day DROP CONSTRAINT golden_small")
    assert run.status == "error" and "golden_small" in run.error
    assert run.rows_written == 4  # 10-31 was rebuilt before 11-01 failed
    assert query(backfilled, "SELECT * FROM crashes_per_day WHERE report_date = '2026-11-01' ORDER BY 1, 2, 3, 4, 5, 6") == before
    assert query(backfilled, "SELECT status, error FROM job_runs WHERE job = 'crashes_per_day' ORDER BY id DESC LIMIT 1") == [
        ("error", run.error)
    ]


# Correlations: product "Corr" on Windows, 2026-11-05. X: 11 reports, 10 processed with
# evil.dll (5 with bad@addon); Y: 10 with ntdll.dll instead; Z: 9 (too few to be scored) with
# evil.dll; every odd crash has good@addon. The baseline is the 29 processed crashes:
# evil.dll 19, ntdll.dll 10, bad@addon 5, good@addon 12 (X 3, Y 5, Z 4).
@pytest.fixture(scope="module")
def correlated(database, own_stack):
    table = database.records
    when = at(2026, 11, 5, 9)
    for signature, count in (("X", 10), ("Y", 10), ("Z", 9)):
        for i in range(count):
            row = report(when + dt.timedelta(minutes=i), signature, product="Corr")
            database.reports.upsert_report(row)
            modules = ["xul.dll", "evil.dll"] if signature != "Y" else ["xul.dll", "ntdll.dll"]
            processed = {
                "signature": signature,
                "json_dump": {"modules": [{"filename": name} for name in modules]},
                "addons": ["bad@addon:1.0"] if signature == "X" and i < 5 else ["good@addon:2.0"] * (i % 2),
            }
            table.put_processed_crash(row["uuid"], {"submitted_timestamp": when.isoformat()}, processed)
    database.reports.upsert_report(report(when, "X", product="Corr"))  # not processed: not counted
    database.reports.upsert_report(report(when, "X", product="Corr", os_name="Linux"))  # too few on Linux
    return database


def test_correlations_keep_over_represented_modules_and_addons(correlated):
    run = run_job(correlated, "correlations", D(2026, 11, 5))
    assert (run.status, run.error, run.rows_written) == ("ok", None, 4)
    rows = query(correlated, "SELECT os_name, signature, kind, name, signature_count, signature_share, "
                             "baseline_count, baseline_share::float8 FROM correlations "
                             "WHERE report_date = '2026-11-05' ORDER BY kind, name")
    assert sorted(rows, key=lambda row: (row[2], row[1])) == [
        ("Windows NT", "X", "addon", "bad@addon", 5, 0.5, 5, pytest.approx(0.1724, abs=1e-4)),
        ("Windows NT", "Y", "addon", "good@addon", 5, 0.5, 12, pytest.approx(0.4138, abs=1e-4)),
        ("Windows NT", "X", "module", "evil.dll", 10, 1.0, 19, pytest.approx(0.6552, abs=1e-4)),
        ("Windows NT", "Y", "module", "ntdll.dll", 10, 1.0, 10, pytest.approx(0.3448, abs=1e-4)),
    ]
    assert run_job(correlated, "correlations", D(2026, 11, 5)).rows_written == 4  # same again


class Bugzilla:
    """A local Bugzilla REST stand-in serving the recorded answers in tests/data/bugzilla."""

    def __init__(self):
        self.requests, self.fail = [], False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                params = parse_qs(urlparse(self.path).query)
                outer.requests.append(params)
                if outer.fail:
                    body, status = b'{"error": true, "message": "database is down"}', 500
                else:
                    name = "changed-since.json" if "chfieldfrom" in params else "all-with-signatures.json"
                    bugs = json.loads((DATA / name).read_text())["bugs"]
                    offset, limit = int(params["offset"][0]), int(params["limit"][0])
                    body, status = json.dumps({"bugs": bugs[offset:offset + limit]}).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rest/bug"


def test_bug_associations_load_every_bug_after_runs_without_a_bugzilla(database, own_stack):
    assert database.settings.bugzilla_url is None  # the default: no network unless configured
    skipped = run_job(database, "bug_associations")
    assert (skipped.status, skipped.error, skipped.rows_written) == ("skipped", "no bugzilla_url configured", 0)
    assert query(database, "SELECT status FROM job_runs WHERE job = 'bug_associations' "
                           "ORDER BY id DESC LIMIT 1") == [("skipped",)]

    bugzilla = Bugzilla()
    try:
        # Configured later: the skipped run was no sync, so every bug is loaded.
        db = job_stores(own_stack.model_copy(update={"bugzilla_url": bugzilla.url, "bugzilla_page_size": 1}))
        associations = "SELECT bug_id, signature FROM bug_associations ORDER BY 1, 2"

        first = run_job(db, "bug_associations")
        assert (first.status, first.error, first.rows_written) == ("ok", None, 3)
        assert query(db, associations) == [(1890001, "A"), (1890001, "B"), (1890002, "S")]
        assert bugzilla.requests[0]["o1"] == ["isnotempty"] and len(bugzilla.requests) == 3  # pages of one bug

        second = run_job(db, "bug_associations")
        assert second.status == "ok"
        changed_since = dt.datetime.fromisoformat(bugzilla.requests[-1]["chfieldfrom"][0].replace("Z", "+00:00"))
        assert abs(changed_since - (query(db, "SELECT started FROM job_runs WHERE job = 'bug_associations' "
                                              "AND status = 'ok' ORDER BY id LIMIT 1")[0][0] - dt.timedelta(minutes=10))) < dt.timedelta(seconds=1)
        expected = [(1890001, "A"), (1890002, "S"), (1890003, "C"), (1890003, "std::vector<int>::operator[]")]
        assert query(db, associations) == expected  # B removed from 1890001, 1890003 added
        assert query(db, "SELECT status FROM bugs WHERE id = 1890001") == [("ASSIGNED",)]

        bugzilla.fail = True
        failed = run_job(db, "bug_associations")
        assert failed.status == "error" and "Bugzilla answered 500" in failed.error
        assert query(db, associations) == expected

        # Bugs lost (or never loaded by earlier successes): an empty table loads every bug again.
        bugzilla.fail = False
        with db.reports.connection() as connection:
            connection.run("TRUNCATE bug_associations, bugs")
        assert run_job(db, "bug_associations").status == "ok"
        assert bugzilla.requests[-1]["o1"] == ["isnotempty"] and "chfieldfrom" not in bugzilla.requests[-1]
        assert query(db, associations) == [(1890001, "A"), (1890001, "B"), (1890002, "S")]
    finally:
        bugzilla.server.shutdown()


def test_partitions_are_created_ahead(database):
    run = run_job(database, "partitions", now=at(2026, 11, 26, 0, 5))
    assert run.status == "ok"
    names = {row[0] for row in query(database, "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                                               "ON c.oid = i.inhrelid WHERE i.inhparent = 'reports'::regclass")}
    assert {"reports_20261123", "reports_20261130", "reports_20261207"} <= names
    # A backfill window does not bring back old weeks (retention may have dropped them).
    assert run_job(database, "partitions", D(2020, 1, 1), D(2020, 1, 2)).status == "ok"
    assert query(database, "SELECT count(*) FROM pg_class WHERE relname = 'reports_20191230'") == [(0,)]


def test_retention_deletes_old_rows_objects_and_partitions_in_batches(own_stack):
    """Ages 5, 20, 45 and 90 days on 2023-06-01 against retention of processed 30, raw 60 and
    dumps 10 days (dates far before the golden set, which stays untouched)."""
    from crashflow.stores.errors import CrashNotFound

    settings = own_stack.model_copy(update={
        "retention_processed_days": 30, "retention_raw_days": 60, "retention_dumps_days": 10,
        "retention_batch_size": 2,
    })
    db = job_stores(settings)
    table, storage = db.records, db.raw_crashes
    now = at(2023, 6, 1, 12)
    signature = f"old-{uuid.uuid4()}"  # HBase and S3 outlive the test database
    crashes = {}
    for age in (5, 20, 45, 90):
        for n in range(3):  # more than one batch per store
            when = now - dt.timedelta(days=age, minutes=n)
            crash_id = create_crash_id(when)
            crashes.setdefault(age, []).append(crash_id)
            raw = {"ProductName": "Old", "submitted_timestamp": when.isoformat()}
            storage.save_raw_crash(crash_id, raw, {"upload_file_minidump": b"MDMP old"})
            table.put_processed_crash(crash_id, raw, {"signature": signature})
            db.reports.upsert_report(report(when, signature, product="Old", crash_id=crash_id))

    run = run_job(db, "retention", now=now)
    assert (run.status, run.error) == ("ok", None)

    def has_dump(crash_id):
        try:
            return storage.load_dump(crash_id, "upload_file_minidump") == b"MDMP old"
        except CrashNotFound:
            return False

    def has_raw(crash_id):
        try:
            return storage.load_raw_crash(crash_id)["ProductName"] == "Old"
        except CrashNotFound:
            return False

    for age, expected in {5: (True, True, True), 20: (False, True, True), 45: (False, True, False),
                          90: (False, False, False)}.items():
        for crash_id in crashes[age]:
            assert (has_dump(crash_id), has_raw(crash_id), table.get_processed_crash(crash_id) is not None) == expected, age
    reports = query(db, "SELECT uuid FROM reports WHERE product = 'Old'")
    # Whole weeks ending before the processed cutoff (2023-05-02) are dropped: ages 45 and 90.
    assert sorted(row[0] for row in reports) == sorted(crashes[5] + crashes[20])
    # Days whose dumps are gone are noted, and the next run has nothing left to do.
    done = {row[0] for row in query(db, "SELECT day FROM retention_done WHERE kind = 'dumps'")}
    assert {(now - dt.timedelta(days=age)).date() for age in (20, 45)} <= done
    again = run_job(db, "retention", now=now + dt.timedelta(hours=1))
    assert (again.status, again.rows_written) == ("ok", 0)


def test_retention_deletes_symbol_uploads_never_completed_after_a_day(own_stack):
    import io

    from crashflow.stores.layout import staged_symbol_key

    stores = job_stores(own_stack)
    symbols = stores.symbols
    staged = staged_symbol_key(uuid.uuid4().hex)
    symbols.save(staged, io.BytesIO(b"MODULE Linux x86_64 0A app\n"))
    symbols.save("app/0A/app.sym", io.BytesIO(b"MODULE Linux x86_64 0A app\n"))
    now = dt.datetime.now(UTC)
    try:
        assert run_job(stores, "retention", now=now + dt.timedelta(hours=1)).status == "ok"
        assert symbols.exists(staged)  # may still be completed
        run = run_job(stores, "retention", now=now + dt.timedelta(days=1, hours=1))
        assert (run.status, run.rows_written) == ("ok", 1)
        assert not symbols.exists(staged) and symbols.exists("app/0A/app.sym")
    finally:
        symbols.delete(staged)
        symbols.delete("app/0A/app.sym")


def test_the_function_runs_the_job_a_cloudevent_names(functions, stack):
    url = functions["aggregate"].url  # serves the session namespace
    database = job_stores(stack)
    headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping", "ce-source": "test",
               "ce-id": "1", "content-type": "application/json"}
    answer = requests.post(url, headers=headers, data=json.dumps({"job": "crashes_per_day", "date": "2026-11-01"}),
                           timeout=60)
    assert answer.status_code == 200, answer.text
    assert query(database, "SELECT window_start, window_end, status FROM job_runs WHERE job = 'crashes_per_day' "
                           "ORDER BY id DESC LIMIT 1") == [(D(2026, 11, 1), D(2026, 11, 1), "ok")]
    runs = query(database, "SELECT count(*) FROM job_runs")
    # Event data that can never run answers 400 (the event source does not retry it), and
    # runs nothing: an event without a job does not mean "all".
    for data in ({"job": "no_such_job"}, {}, {"date": "2026-11-01"}, {"job": "top_crashers", "date": "yesterday"},
                 {"job": "top_crashers", "date": 20261101}, ["top_crashers"],
                 {"job": "top_crashers", "from": "2026-11-02", "to": "2026-11-01"}):
        answer = requests.post(url, headers=headers, data=json.dumps(data), timeout=60)
        assert answer.status_code == 400, (data, answer.status_code, answer.text)
    answer = requests.post(url, headers={**headers, "content-type": "text/plain"}, data="{not json", timeout=60)
    assert answer.status_code == 400, answer.text
    assert query(database, "SELECT count(*) FROM job_runs") == runs


def test_cli_runs_a_job_for_a_date_and_shows_the_latest_runs(backfilled, monkeypatch):
    database = backfilled
    from crashflow import cli
    from crashflow.settings import get_settings

    monkeypatch.setenv("CRASHFLOW_NAMESPACE", database.settings.namespace)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.main, ["aggregate", "run", "top_crashers", "--date", "2026-10-31"])
        assert result.exit_code == 0, result.output
        # 4 + 3 rows for the day, and the 7-day sums ending 10-31..11-06
        assert result.output == "top_crashers 2026-10-31..2026-10-31: ok, 34 rows\n"
        result = CliRunner().invoke(cli.main, ["aggregate", "run", "top_crasher", "--date", "2026-10-31"])
        assert result.exit_code == 1 and "unknown job 'top_crasher'" in result.output
        result = CliRunner().invoke(cli.main, ["aggregate", "status"])
        assert result.exit_code == 0 and "top_crashers 2026-10-31..2026-10-31 started" in result.output
        result = CliRunner().invoke(cli.main, ["aggregate", "new-signatures", "--date", "2026-11-01"])
        assert result.exit_code == 0, result.output
        assert result.output == "C\t2026-11-01 13:00:00\t20261101000000\n"
    finally:
        get_settings.cache_clear()


def test_all_runs_every_job_in_order(database, own_stack):
    db = job_stores(own_stack.model_copy(update={"bugzilla_url": "http://127.0.0.1:9/rest/bug"}))
    # A fixed now: partitions and retention work from today, whatever day the tests run.
    runs = run_jobs(db, "all", D(2026, 11, 1), now=at(2026, 11, 2, 12))
    assert [run.job for run in runs][:3] == ["partitions", "crashes_per_day", "top_crashers"]
    # Bugzilla is unreachable here: that job fails, the others still run.
    assert {run.job: run.status for run in runs if run.status != "ok"} == {"bug_associations": "error"}



def test_the_function_refuses_to_start_with_a_bad_schedule(stack):
    env = dict(os.environ, CRASHFLOW_NAMESPACE=stack.namespace, CRASHFLOW_SCHEDULES='{"top_crashers": "every hour"}')
    server = FunctionServer("aggregate", free_port(), env)
    try:
        with pytest.raises(RuntimeError, match="exited"):
            server.wait_ready(timeout=60)
    finally:
        server.stop()
    log = (REPO / ".local" / "logs" / "test-aggregate.log").read_text()
    assert "invalid cron expression 'every hour'" in log


def test_the_relay_fires_schedules_without_waiting_for_the_runs(stack):
    from crashflow.relay import Relay

    release, received, answered = threading.Event(), [], threading.Event()

    class SlowAggregate(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            release.wait(30)  # a long aggregation run
            answered.set()  # before the answer leaves: a caller that waited for it sees this set
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowAggregate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = stack.model_copy(update={"aggregate_url": f"http://127.0.0.1:{server.server_address[1]}",
                                            "schedules": {"top_crashers": "*/10 * * * *"}})
        relay = Relay(settings)
        try:
            assert relay.fire_schedules(dt.datetime.now(UTC) + dt.timedelta(minutes=11)) == ["top_crashers"]
            assert not answered.is_set()  # back before aggregate answered: crash delivery goes on
            release.set()
            assert answered.wait(30) and received == [{"job": "top_crashers"}]
            relay.scheduler.shutdown(wait=True)
        finally:
            release.set()
            relay.close()
    finally:
        release.set()
        server.shutdown()


def test_aggregate_answers_dockerflow_endpoints(functions):
    url = functions["aggregate"].url
    assert requests.get(f"{url}/__lbheartbeat__", timeout=30).status_code == 200
    health = requests.get(f"{url}/__heartbeat__", timeout=60)
    assert (health.status_code, health.json()) == (200, {"postgres": True, "hbase": True, "s3": True})
    version = requests.get(f"{url}/__version__", timeout=30)
    assert version.status_code == 200 and "version" in version.json()
    # The CloudEvent trigger is unchanged beside them.
    assert requests.post(f"{url}/", json={}, timeout=30).status_code == 400


def test_aggregate_heartbeat_is_503_while_a_store_is_down(stack):
    port = free_port()
    server = FunctionServer("aggregate", port, dict(os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE,
                                                    CRASHFLOW_HBASE_THRIFT_PORT=str(free_port())))
    try:
        server.wait_ready()
        health = requests.get(f"{server.url}/__heartbeat__", timeout=120)
        assert health.status_code == 503 and health.json()["hbase"] is False
        assert health.json()["postgres"] is True
    finally:
        server.stop()
