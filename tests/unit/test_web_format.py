"""How the UI writes numbers, shares, durations and times."""

import datetime as dt

import pytest

from crashflow.web.format import duration, number, percent, relative, short_path, utc
from crashflow.web.reasons import explain_address, explain_reason

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("value, text", [
    (0, "0"), (999, "999"), (1234567, "1,234,567"), (-5000, "-5,000"), (12.0, "12"), (2.5, "2.50"),
    (None, "—"), ("", "—"), ("x", "x"), (True, "true"),
])
def test_number(value, text):
    assert number(value) == text


@pytest.mark.parametrize("args, text", [
    ((0.2115,), "21.1%"), ((11, 52), "21.2%"), ((52, 52), "100.0%"), ((0, 52), "0.0%"),
    ((1, 10_000),  "<0.1%"), ((0.0004,), "<0.1%"), ((1, 0), "—"), ((None,), "—"), ((2, 3), "66.7%"),
])
def test_percent(args, text):
    assert percent(*args) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (45, "45 s"), (200, "3 min 20 s"), (3600, "1 h"), (3725, "1 h 2 min"),
    (86400, "1 day"), (93784, "1 day 2 h"), (2 * 86400 + 5, "2 days"), (400 * 86400, "1 year 35 days"),
    (None, "—"), ("x", "—"), (-1, "—"), ("120", "2 min"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_utc_and_relative():
    assert utc("2026-11-30T09:03:21+00:00") == "2026-11-30 09:03 UTC"
    assert utc("2026-11-30T10:03:21+01:00", seconds=True) == "2026-11-30 09:03:21 UTC"
    assert utc("2026-11-30T09:03:21") == "2026-11-30 09:03 UTC"  # no zone: UTC
    assert utc(None) == "—" and utc("not a date") == "not a date"
    assert relative("2026-11-30T09:00:00Z", NOW) == "3 h ago"
    assert relative("2026-11-28T12:00:00Z", NOW) == "2 days ago"
    assert relative("2026-11-30T11:59:50Z", NOW) == "just now"
    assert relative("2026-11-30T12:05:00Z", NOW) == "in 5 min"
    assert relative(None, NOW) == ""


def test_short_path():
    assert short_path("/rustc/abc/library/core/src/ptr/mod.rs") == "ptr/mod.rs"
    assert short_path("c:\\builds\\src\\main.cpp") == "src/main.cpp"
    assert short_path("main.cpp") == "main.cpp" and short_path(None) == ""


@pytest.mark.parametrize("reason, words", [
    ("EXCEPTION_ACCESS_VIOLATION_READ", "read memory"),
    ("EXCEPTION_ACCESS_VIOLATION_WRITE", "wrote to memory"),
    ("SIGSEGV /SEGV_MAPERR", "segmentation fault"),
    ("EXC_BAD_ACCESS / KERN_INVALID_ADDRESS", "nothing mapped"),
    ("EXC_BAD_ACCESS / SOMETHING_NEW", "touched memory"),
    ("SIGABRT", "ended itself"),
])
def test_reasons_in_words(reason, words):
    assert words in explain_reason(reason)


def test_unknown_reasons_and_addresses():
    assert explain_reason("SOMETHING_ELSE") == "" and explain_reason(None) == ""
    assert explain_reason("SIGSEGVX") == ""  # a word of its own, not SIGSEGV
    assert "null pointer" in explain_address("0x00000045", "SIGSEGV")
    assert explain_address("0x7ffd12345678", "SIGSEGV") == ""
    assert explain_address("0x0", "SIGABRT") == ""  # not a memory error
    assert explain_address("garbage", "SIGSEGV") == ""


def test_field_descriptions_are_markdown_without_html():
    from crashflow.web.format import markdown

    html = str(markdown("**For Focus, Fenix:** the `YYYYMMDDHHMMSS` date <script>alert(1)</script> [x](javascript:alert(1))"))
    assert "<strong>For Focus, Fenix:</strong>" in html and "<code>YYYYMMDDHHMMSS</code>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert str(markdown(None)) == ""
