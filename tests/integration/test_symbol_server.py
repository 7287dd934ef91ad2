"""The query function as a symbol server: minidump-stackwalk fetches a crash's symbols from
it over HTTP (--symbols-url), names are checked, and it can require a token."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from conftest import DATA, TEST_NAMESPACE, FunctionServer, free_port
from test_metrics import scrape, value
from crashflow.stores.factory import Stores
from crashflow.tokens import TokenStore

pytestmark = pytest.mark.integration

# The request metrics label every symbol file with the routing map's one rule.
SYMBOL_ROUTE = "/symbols/<debug_file>/<debug_id>/<name>"
KEY = "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"


@pytest.fixture
def uploaded(stack):
    symbols = Stores.from_settings(stack, "cli").symbols
    with (DATA / "symbols" / KEY).open("rb") as file:
        symbols.save(KEY, file)
    yield (DATA / "symbols" / KEY).read_bytes()
    symbols.delete(KEY)


def test_minidump_stackwalk_reads_symbols_from_the_query_function(stack, functions, uploaded, tmp_path):
    url = functions["query"].url
    before = scrape(url)
    answer = requests.get(f"{url}/symbols/{KEY}", allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and "max-age" in answer.headers["Cache-Control"]
    assert requests.get(answer.headers["Location"], timeout=30).content == uploaded
    head = requests.head(f"{url}/symbols/{KEY}", timeout=30)
    assert (head.status_code, int(head.headers["Content-Length"])) == (200, len(uploaded))
    assert "immutable" in head.headers["Cache-Control"]

    walked = subprocess.run(
        [stack.stackwalker, "--json", f"--symbols-url={url}/symbols/", f"--symbols-cache={tmp_path / 'cache'}",
         f"--symbols-tmp={tmp_path}", str(DATA / "minidumps" / "test.dmp")],
        capture_output=True, text=True, timeout=120,
    )
    frame = json.loads(walked.stdout)["crashing_thread"]["frames"][0]
    assert (frame["function"], frame["file"], frame["line"]) == ("`anonymous namespace'::CrashFunction", "c:\\test_app.cc", 58)
    # Request metrics label every symbol file with the one route.
    redirects = value(scrape(url), "crashflow_http_requests_total", function="query", endpoint=SYMBOL_ROUTE,
                      method="GET", status="302")
    assert redirects - value(before, "crashflow_http_requests_total", function="query", endpoint=SYMBOL_ROUTE,
                             method="GET", status="302") >= 2  # ours, and minidump-stackwalk's


@pytest.mark.parametrize("path", [
    "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/other.sym",  # not the module's file name
    "test_app.pdb/0000/test_app.sym",  # unknown debug id
    "..%2F..%2Fetc/5A9832E5287241C1838ED98914E9B7FF1/passwd",
    "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/../x/test_app.sym",
    "test_app.pdb/5A98-32/test_app.sym",
    "test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1",
])
def test_unknown_or_unsafe_names_are_404(functions, uploaded, path):
    answer = requests.get(f"{functions['query'].url}/symbols/{path}", allow_redirects=False, timeout=30)
    assert answer.status_code == 404, (path, answer.status_code)


def test_private_symbols_need_view_symbols_and_can_be_served_as_bytes(stack, uploaded):
    server = FunctionServer("query", free_port(), dict(
        os.environ, CRASHFLOW_NAMESPACE=TEST_NAMESPACE, CRASHFLOW_SYMBOLS_PUBLIC="false",
        CRASHFLOW_SYMBOLS_SERVER_REDIRECT="false"))
    tokens = TokenStore(Stores.from_settings(stack, "cli").reports)
    try:
        server.wait_ready()
        url = f"{server.url}/symbols/{KEY}"
        assert requests.get(url, timeout=30).status_code == 403
        other = tokens.create(["view_pii"])
        assert requests.get(url, headers={"Auth-Token": other}, timeout=30).status_code == 403
        allowed = {"Auth-Token": tokens.create(["view_symbols"])}
        answer = requests.get(url, headers=allowed, timeout=30)
        assert answer.status_code == 200 and answer.content == uploaded
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert int(answer.headers["Content-Length"]) == len(uploaded)
        head = requests.head(url, headers=allowed, timeout=30)
        assert (head.status_code, int(head.headers["Content-Length"]), head.content) == (200, len(uploaded), b"")
        unknown = requests.get(f"{server.url}/symbols/test_app.pdb/0000/test_app.sym", headers=allowed, timeout=30)
        assert unknown.status_code == 404 and unknown.headers["Cache-Control"] == "no-cache"
    finally:
        server.stop()
