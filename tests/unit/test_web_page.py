"""Page helpers: links, where to go after signing in, what an answer says it withheld."""

import pytest

from crashflow.web.page import Page, query_string, safe_next


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


class Caller:
    """What ``Page.split_withheld`` needs of a page: the caller's permissions."""

    def __init__(self, *permissions):
        self.permissions = frozenset(permissions)

    may = Page.may
    withheld_note = Page.withheld_note
    split_withheld = Page.split_withheld
    withheld_fields = Page.withheld_fields


def test_split_withheld():
    answer = {"uuid": "x", "_withheld": {"count": 3, "fields": ["URL"], "unlisted": 2}}
    assert Caller().split_withheld(answer) == ({"uuid": "x"}, 3)
    assert Caller().split_withheld({"uuid": "x"}) == ({"uuid": "x"}, None)  # nothing said: not known
    odd = {"_withheld": "an annotation of that name"}
    assert Caller().split_withheld(odd) == (odd, None)
    # With view_pii there is no note: a crash's own annotation of that name stays.
    assert Caller("view_pii").split_withheld(answer) == (answer, None)
    # The names the note lists (the two unlisted ones are only counted), none for view_pii.
    assert Caller().withheld_fields(answer) == ["URL"]
    assert Caller().withheld_fields(odd) == [] and Caller("view_pii").withheld_fields(answer) == []


class Linker:
    """What ``Page.link`` and ``Page.links`` need of a page: no carried parameters."""

    def carried(self):
        return []

    link = Page.link
    links = Page.links


def test_links_are_link_for_each_value():
    page = Linker()
    rest = dict(product="Fire fox", version=["1.0", "2.0b1"], date=[">=2026-11-24", "<2026-12-01"])
    signatures = ["js::RunScript", "a & b | <c>", "OOM | small"]
    assert page.links("/signature/", "signature", signatures, **rest) == {
        signature: page.link("/signature/", carry=False, signature=signature, **rest) for signature in signatures}
    assert page.links("/signature/", "signature", ["x"], product="P", version=None) == {
        "x": page.link("/signature/", carry=False, signature="x", product="P", version=None)}
