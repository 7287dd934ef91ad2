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
