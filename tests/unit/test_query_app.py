"""The query function's application without its stores: routing, HTML or JSON errors,
security headers, assets, CSRF refusals."""

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from crashflow.query_app import API_ROUTES, PAGE_ROUTES, SECURITY_HEADERS, URL_MAP, QueryApp, endpoint_label
from crashflow.settings import Settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def app():
    # Stores nobody listens for: these requests must not need any.
    return QueryApp(Settings(namespace="nostores", pg_port=1, aws_endpoint_url="http://127.0.0.1:1",
                             hbase_thrift_port=1))


def ask(app, path, method="GET", headers=None, data=None):
    request = Request(EnvironBuilder(path=path, method=method, headers=headers or {}, data=data).get_environ())
    return app.respond(request)


def test_every_route_is_in_the_map():
    adapter = URL_MAP.bind("localhost")
    for route in API_ROUTES + PAGE_ROUTES:
        path = (route.path.replace("<crash_id>", "00000000-0000-4000-8000-000000261126")
                .replace("<product>", "MyApp").replace("<int:token_id>", "7").replace("<name>", "SuperSearch"))
        endpoint, _ = adapter.match(path, method=route.methods[0])
        assert endpoint is route
        if route.path.endswith("/") and route.path != "/":
            assert adapter.match(path.rstrip("/"), method=route.methods[0])[0] is route  # no redirect


@pytest.mark.parametrize("path, label", [
    ("/api/SuperSearch", "/api/SuperSearch/"),
    ("/api/Reprocessing/", "/api/Reprocessing/"),  # a POST route, asked with GET: still its label
    ("/report/index/00000000-0000-4000-8000-000000261126", "/report/index/<crash_id>"),
    ("/report/index/nonsense", "/report/index/<crash_id>"),
    ("/assets/app.css", "/assets/"),
    ("/signature/", "/signature/"),
    ("/__heartbeat__", "/__heartbeat__"),
    ("/no/such/thing", None),
    # Paths the map answers with a redirect ("//" merged): found by fuzz_query.py, a 500.
    ("/home/product//assets/", None),
    ("/symbols/a//__heartbeat__/b", None),
])
def test_request_metrics_name_routes_not_paths(path, label):
    assert endpoint_label(path) == label


def test_a_path_with_a_doubled_slash_is_redirected_unless_the_address_is_too_long(app):
    short = ask(app, "/home/product//MyApp?days=7")
    assert short.status == 308 and short.headers["Location"].endswith("/home/product/MyApp?days=7")
    # Found by fuzz_query.py: a Location header of 100,000 characters, which the client could
    # not read (no answer at all, to it).
    long = ask(app, "/home/product//MyApp?days=" + "x" * 100_000)
    assert long.status == 414 and "Location" not in long.headers
    assert "too long to redirect" in long.body["error"]


def test_a_page_redirect_to_a_too_long_address_is_refused(app):
    # The search builder's form, submitted: redirected to the same query in SuperSearch's words.
    built = ask(app, "/search/?field=&_sort=signature", headers=BROWSER)
    assert built.status == 303 and built.headers["Location"] == "/search/?_sort=signature"
    refused = ask(app, "/search/?field=&_sort=" + "x" * 10_000, headers=BROWSER)
    assert refused.status == 414 and "Location" not in refused.headers
    assert "too long to redirect" in refused.body


def test_head_answers_like_get(app):
    assert ask(app, "/assets/app.css", "HEAD").status == 200
    assert ask(app, "/nope", "HEAD", headers=BROWSER).status == 404


@pytest.mark.parametrize("path, status", [("/nope", 404), ("/api/Nope/", 404)])
def test_unknown_paths(app, path, status):
    as_json = ask(app, path)
    assert as_json.status == status and as_json.body["error"].startswith("no such page or endpoint")
    as_page = ask(app, path, headers=BROWSER)
    if path.startswith("/api/"):
        assert isinstance(as_page.body, dict)  # the API answers JSON, even to a browser
    else:
        assert as_page.status == status and "<h1>Not Found</h1>" in as_page.body
        assert as_page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert as_page.headers["Cache-Control"] == "private, no-cache"


def test_wrong_method(app):
    api = ask(app, "/api/Reprocessing/", "GET")
    assert api.status == 405 and api.headers["Allow"] == "POST"
    page = ask(app, "/report/index/x", "DELETE", headers=BROWSER)
    assert page.status == 405 and "405 Method Not Allowed" in page.body


def test_security_headers_on_every_answer(app):
    for answer in (ask(app, "/nope"), ask(app, "/nope", headers=BROWSER), ask(app, "/assets/app.css")):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value


def test_a_form_without_its_csrf_token_is_refused_before_anything_runs(app):
    answer = ask(app, "/logout/", "POST", headers=BROWSER, data={"next": "/"})
    assert answer.status == 403 and "expired or came from another site" in answer.body
    assert "Set-Cookie" not in answer.headers


def test_assets(app):
    answer = ask(app, "/assets/app.js")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.headers["Cache-Control"] == "no-cache"
    versioned = app.static.url("app.js")
    assert ask(app, versioned).headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert ask(app, "/assets/../settings.py").status == 404
    assert ask(app, "/assets/nope.css").status == 404
