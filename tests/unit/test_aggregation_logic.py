"""Pure logic of the aggregation jobs: windows, Bugzilla tokens, correlations, settings."""

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from crashflow.aggregation import DEFAULT_SCHEDULES, JOB_NAMES, JOBS, schedules
from crashflow.aggregation.bugzilla import find_signatures
from crashflow.aggregation.correlations import Shares, over_represented
from crashflow.aggregation.runner import default_window
from crashflow.api.topcrashers import ranked_top_crashers
from crashflow.relay import Schedule
from crashflow.settings import Settings

UTC = dt.timezone.utc
LATE = dt.timedelta(hours=2)
REPO = Path(__file__).resolve().parents[2]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_first_run_covers_yesterday_and_today():
    assert default_window([], at("2026-11-26T10:00"), LATE) == (dt.date(2026, 11, 25), dt.date(2026, 11, 26))


def test_hourly_run_recomputes_today_only():
    successes = [(dt.date(2026, 11, 26), at("2026-11-26T09:00"))]
    assert default_window(successes, at("2026-11-26T10:00"), LATE) == (dt.date(2026, 11, 26), dt.date(2026, 11, 26))


def test_run_after_midnight_finishes_yesterday():
    successes = [(dt.date(2026, 11, 25), at("2026-11-25T23:50"))]
    assert default_window(successes, at("2026-11-26T00:10"), LATE) == (dt.date(2026, 11, 25), dt.date(2026, 11, 26))


def test_resumes_after_a_gap_from_the_last_success():
    successes = [(dt.date(2026, 11, 20), at("2026-11-20T12:00")), (dt.date(2026, 11, 1), at("2026-11-19T12:00"))]
    assert default_window(successes, at("2026-11-26T10:00"), LATE) == (dt.date(2026, 11, 20), dt.date(2026, 11, 26))


def test_a_backfill_of_old_days_does_not_cover_today():
    # Backfilling October today covered October only: the scheduled run still owes yesterday.
    successes = [(dt.date(2026, 10, 31), at("2026-11-26T09:00"))]
    assert default_window(successes, at("2026-11-26T10:00"), LATE) == (dt.date(2026, 11, 1), dt.date(2026, 11, 26))


@pytest.mark.parametrize("field, expected", [
    ("[@ js::GCMarker::drain ]", {"js::GCMarker::drain"}),
    ("[@ OOM | small ] [@ mozalloc_abort | abort ]", {"OOM | small", "mozalloc_abort | abort"}),
    ("[@ std::vector<int>::operator[] ]\r\n[@ foo]", {"std::vector<int>::operator[]", "foo"}),
    ("[@]  [@   ] no token [@ unterminated", set()),
    ("", set()),
    (None, set()),
])
def test_crash_signature_tokens(field, expected):
    assert find_signatures(field) == expected


def test_over_represented_keeps_items_five_points_above_the_baseline():
    signature = Shares.of([["evil.dll", "xul.dll", "xul.dll"]] * 8 + [["xul.dll"]] * 2)  # evil 80 %, xul 100 %
    baseline = Shares.of([["xul.dll"]] * 90 + [["evil.dll", "xul.dll"]] * 10)  # evil 10 %, xul 100 %
    assert signature.counts["xul.dll"] == 10  # once per crash
    found = over_represented(signature, baseline, 0.05)
    assert [(c.name, c.signature_count, c.signature_share, c.baseline_count, c.baseline_share) for c in found] == [
        ("evil.dll", 8, 0.8, 10, 0.1)
    ]


def test_over_represented_threshold_is_inclusive_and_empty_sets_give_nothing():
    signature = Shares.of([["a"]] * 15 + [[]] * 85)  # 15 %
    baseline = Shares.of([["a"]] * 10 + [[]] * 90)  # 10 %
    assert [c.name for c in over_represented(signature, baseline, 0.05)] == ["a"]
    assert over_represented(signature, baseline, 0.051) == []
    assert over_represented(Shares.of([]), baseline, 0.05) == []
    assert over_represented(signature, Shares.of([]), 0.05) == []


def test_top_crashers_rejects_bad_arguments_before_querying():
    for kwargs, message in (
        ({"days": 5}, "days must be one of 1, 3, 7, 14, 28"),
        ({"platform": "amiga"}, "unknown platform"),
        ({"limit": 0}, "limit must be at least 1"),
    ):
        with pytest.raises(ValueError, match=message):
            ranked_top_crashers(None, "Firefox", **kwargs)


def test_one_list_of_jobs_in_run_order_each_with_its_schedule():
    assert tuple(job.name for job in JOBS) == JOB_NAMES and len(set(JOB_NAMES)) == len(JOBS)
    # explosiveness reads what top_crashers wrote
    assert JOB_NAMES.index("top_crashers") < JOB_NAMES.index("explosiveness")
    assert DEFAULT_SCHEDULES == {job.name: job.schedule for job in JOBS}
    assert schedules(Settings(_env_file=None)) == DEFAULT_SCHEDULES
    assert schedules(Settings(schedules={})) == {}  # the relay in a cluster: PingSources fire them


def test_schedules_are_validated_at_start_up():
    with pytest.raises(ValidationError, match="invalid cron expression"):
        Settings(schedules={"top_crashers": "every ten minutes"})
    with pytest.raises(ValueError, match="unknown job 'top_crasher'"):
        schedules(Settings(schedules={"top_crasher": "*/10 * * * *"}))
    with pytest.raises(ValidationError, match="retention_dumps_days"):
        Settings(retention_raw_days=30, retention_dumps_days=60)
    # HBase keeps the raw annotations until the processed cutoff: raw retention cannot be shorter.
    with pytest.raises(ValidationError, match="retention_raw_days must not be less than retention_processed_days"):
        Settings(retention_raw_days=30, retention_processed_days=60, retention_dumps_days=30)


def test_schedules_from_the_environment(monkeypatch):
    monkeypatch.setenv("CRASHFLOW_SCHEDULES", '{"retention": "0 4 * * 0"}')
    assert Settings().schedules == {"retention": "0 4 * * 0"}
    monkeypatch.setenv("CRASHFLOW_SCHEDULES", '{"retention": "61 * * * *"}')
    with pytest.raises(ValidationError):
        Settings()


def test_every_job_has_a_default_schedule_and_knative_pingsource_in_step():
    defaults = schedules(Settings(_env_file=None))
    assert set(defaults) == set(JOB_NAMES)
    sources = [doc for doc in yaml.safe_load_all((REPO / "infra/knative/schedules.yaml").read_text()) if doc]
    in_knative = {}
    for source in sources:
        assert source["kind"] == "PingSource" and source["spec"]["timezone"] == "Etc/UTC"
        assert source["spec"]["sink"]["ref"]["name"] == "aggregate"
        job = yaml.safe_load(source["spec"]["data"])["job"]
        in_knative[job] = source["spec"]["schedule"]
    assert in_knative == defaults and list(in_knative) == list(JOB_NAMES)


def test_schedule_fires_each_job_when_due():
    schedule = Schedule({"top_crashers": "*/10 * * * *", "retention": "20 3 * * *"}, at("2026-11-26T03:05"))
    assert schedule.due(at("2026-11-26T03:09")) == []
    assert schedule.due(at("2026-11-26T03:10")) == ["top_crashers"]
    assert schedule.due(at("2026-11-26T03:10:30")) == []
    assert sorted(schedule.due(at("2026-11-26T03:20"))) == ["retention", "top_crashers"]


def test_shares_of_identical_lists_counted_at_once_equal_crash_by_crash():
    one_by_one = Shares.of([["evil.dll", "xul.dll", "xul.dll"]] * 8 + [["xul.dll"]] * 2 + [[]] * 3)
    weighted = Shares()
    weighted.add(["evil.dll", "xul.dll", "xul.dll"], 8)
    weighted.add(["xul.dll"], 2)
    weighted.add([], 3)
    assert (weighted.total, weighted.counts) == (one_by_one.total, one_by_one.counts) == (13, {"evil.dll": 8, "xul.dll": 10})


def test_the_api_and_the_settings_import_no_job_code():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, crashflow.settings, crashflow.api.app; "
                               "print(sorted(m for m in sys.modules if m.startswith('crashflow.aggregation')))"],
        capture_output=True, text=True, timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
