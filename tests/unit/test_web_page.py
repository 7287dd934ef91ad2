"""Page helpers: links, where to go after signing in, what an answer says it withheld."""

import pytest

from crashflow.web.page import query_string, safe_next, split_withheld


@pytest.mark.parametrize("target, expected", [
    ("/report/index/x?tab=raw", "/report/index/x?tab=raw"), (None, "/"), ("", "/"),
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"),
])
def test_safe_next(target, expected):
    assert safe_next(target) == expected


def test_query_string():
    assert query_string([("date", [">=2026-11-01", "<2026-11-08"]), ("version", None), ("q", "a b&c")]) == (
        "date=%3E%3D2026-11-01&date=%3C2026-11-08&q=a+b%26c")
    assert query_string({"page": 2}) == "page=2"


def test_split_withheld():
    answer = {"uuid": "x", "_withheld": {"count": 3, "fields": ["URL"], "unlisted": 2}}
    assert split_withheld(answer) == ({"uuid": "x"}, 3)
    assert split_withheld({"uuid": "x"}) == ({"uuid": "x"}, None)  # nothing said: not known
    assert split_withheld({"_withheld": "an annotation of that name"}) == ({"_withheld": "an annotation of that name"}, None)
