import datetime as dt
import json
import random

import pytest

from crashflow.collector.throttler import (
    InvalidThrottleRules, ThrottleResult, ThrottleRule, Throttler,
)


def rules(*items):
    return [ThrottleRule.model_validate(item) for item in items]


def test_first_matching_rule_wins():
    throttler = Throttler(rules(
        {"name": "comments", "annotation": "Comments", "present": True, "result": "ACCEPT"},
        {"name": "nightly", "annotation": "ReleaseChannel", "equals": ["nightly", "beta"], "result": "DEFER"},
        {"name": "old", "annotation": "Version", "matches": r"^1\.", "result": "REJECT"},
    ))
    assert throttler.throttle({"Comments": "hi", "ReleaseChannel": "nightly"}) == (ThrottleResult.ACCEPT, "comments")
    assert throttler.throttle({"ReleaseChannel": "beta"}) == (ThrottleResult.DEFER, "nightly")
    assert throttler.throttle({"Version": "1.2"}) == (ThrottleResult.REJECT, "old")
    assert throttler.throttle({"Version": "2.0"}) == (ThrottleResult.REJECT, "NO_MATCH")


def test_percentage_samples():
    throttler = Throttler(
        rules({"name": "release", "always": True, "result": "ACCEPT", "percentage": 10}),
        rng=random.Random(1),
    )
    accepted = sum(throttler.throttle({})[0] is ThrottleResult.ACCEPT for _ in range(10_000))
    assert 800 < accepted < 1200


@pytest.mark.parametrize("rule", [
    {"name": "x", "result": "ACCEPT"},  # no condition
    {"name": "x", "always": True, "equals": "a", "annotation": "A", "result": "ACCEPT"},  # two
    {"name": "x", "equals": "a", "result": "ACCEPT"},  # no annotation
    {"name": "x", "always": True, "result": "MAYBE"},
    {"name": "x", "annotation": "A", "matches": "(", "result": "ACCEPT"},
    {"name": "x", "always": True, "result": "ACCEPT", "percentage": 150},
])
def test_bad_rules_are_refused(rule):
    with pytest.raises(ValueError):
        ThrottleRule.model_validate(rule)


def test_rule_files(tmp_path):
    assert Throttler.from_file("accept_all.yaml").throttle({}) == (ThrottleResult.ACCEPT, "accept_everything")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n")
    with pytest.raises(InvalidThrottleRules, match="bad.yaml"):
        Throttler.from_file(bad)


TODAY = dt.date(2026, 11, 26)


def test_not_equals_treats_a_missing_annotation_as_different():
    throttler = Throttler(rules(
        {"name": "unsupported", "annotation": "ProductName", "not_equals": ["A", "B"], "result": "REJECT"},
        {"name": "rest", "always": True, "result": "ACCEPT"},
    ))
    assert throttler.throttle({"ProductName": "C"}) == (ThrottleResult.REJECT, "unsupported")
    assert throttler.throttle({}) == (ThrottleResult.REJECT, "unsupported")
    assert throttler.throttle({"ProductName": "B"}) == (ThrottleResult.ACCEPT, "rest")


@pytest.mark.parametrize("build_id, too_old", [
    ("20241125000000", True),     # 731 days
    ("20241126120000", False),    # 730 days: not older than 730
    ("20241125", True),
    ("not-a-build", False),
    ("20241399000000", False),    # no such date
    ("", False),
])
def test_older_than_days(build_id, too_old):
    throttler = Throttler(rules(
        {"name": "old", "annotation": "BuildID", "older_than_days": 730, "result": "REJECT"},
        {"name": "rest", "always": True, "result": "ACCEPT"},
    ))
    assert throttler.throttle({"BuildID": build_id}, today=TODAY)[1] == ("old" if too_old else "rest")


def test_json_rule_file(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"name": "defer_all", "always": True, "result": "defer"}]}))
    assert Throttler.from_file(path).throttle({}) == (ThrottleResult.DEFER, "defer_all")


def test_bad_rule_file_message_names_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    always: true\n    result: ACCEPT\n    percent: 5\n")
    with pytest.raises(InvalidThrottleRules, match=r"(?s)bad.yaml.*rules.0.percent.*Extra inputs"):
        Throttler.from_file(bad)
    with pytest.raises(InvalidThrottleRules, match="missing.yaml"):
        Throttler.from_file(tmp_path / "missing.yaml")


def mozilla(seed=7):
    throttler = Throttler.from_file("mozilla.yaml")
    throttler.rng = random.Random(seed)
    return throttler


RECENT = {"ProductName": "Firefox", "BuildID": "20261101000000", "ReleaseChannel": "release"}


@pytest.mark.parametrize("annotations, expected", [
    ({**RECENT, "ProductName": "NotMozilla"}, (ThrottleResult.REJECT, "unsupported_product")),
    ({k: v for k, v in RECENT.items() if k != "ProductName"}, (ThrottleResult.REJECT, "unsupported_product")),
    ({**RECENT, "BuildID": "20231101000000", "Comments": "hi"}, (ThrottleResult.REJECT, "buildid_older_than_2_years")),
    ({**RECENT, "Throttleable": "0"}, (ThrottleResult.ACCEPT, "throttleable_0")),
    ({**RECENT, "Comments": "it crashed"}, (ThrottleResult.ACCEPT, "has_comments")),
    ({**RECENT, "ReleaseChannel": "nightly"}, (ThrottleResult.ACCEPT, "is_nightly_beta_esr")),
    ({**RECENT, "ReleaseChannel": "beta"}, (ThrottleResult.ACCEPT, "is_nightly_beta_esr")),
    ({**RECENT, "ReleaseChannel": "esr"}, (ThrottleResult.ACCEPT, "is_nightly_beta_esr")),
    ({**RECENT, "ProductName": "Fenix"}, (ThrottleResult.ACCEPT, "accept_everything")),
])
def test_mozilla_rules(annotations, expected):
    assert mozilla().throttle(annotations, today=TODAY) == expected


def test_mozilla_rules_sample_firefox_release_at_ten_percent():
    throttler = mozilla(seed=3)
    results = [throttler.throttle(RECENT, today=TODAY) for _ in range(5000)]
    assert {rule for _, rule in results} == {"is_firefox_desktop"}
    accepted = sum(result is ThrottleResult.ACCEPT for result, _ in results)
    assert 400 < accepted < 600
    assert all(result in (ThrottleResult.ACCEPT, ThrottleResult.REJECT) for result, _ in results)
