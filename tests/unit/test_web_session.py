"""The session cookie: signed, HttpOnly, SameSite=Strict, Secure over https; tampered or
old cookies are no session; CSRF tokens compare in constant time and change on sign-in."""

import time

from werkzeug.http import parse_cookie
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from crashflow.web.session import COOKIE_NAME, Session, SessionCookies


def request_with(cookie: str | None) -> Request:
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie is not None else {}
    return Request(EnvironBuilder(path="/", headers=headers).get_environ())


def cookie_value(header: str) -> str:
    return parse_cookie(header.split(";", 1)[0])[COOKIE_NAME]


def test_round_trip_and_attributes():
    cookies = SessionCookies(lambda: "k" * 40, 3600)
    session = Session()
    session.sign_in("the-token")
    session.flash("hello")
    header = cookies.header(session, secure=False)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header and "Secure" not in header
    assert "the-token" not in header  # signed and encoded, not in plain sight
    assert "Secure" in cookies.header(session, secure=True)
    loaded = cookies.load(request_with(cookie_value(header)))
    assert (loaded.token, loaded.csrf, loaded.notice) == ("the-token", session.csrf, "hello")
    assert not loaded.changed


def test_tampered_foreign_and_old_cookies_are_no_session():
    cookies = SessionCookies(lambda: "k" * 40, 3600)
    session = Session()
    session.sign_in("the-token")
    value = cookie_value(cookies.header(session, secure=False))
    for bad in (value[:-2] + ("xx" if not value.endswith("xx") else "yy"), "garbage", ""):
        assert cookies.load(request_with(bad)).token is None
    other_key = SessionCookies(lambda: "o" * 40, 3600)
    assert other_key.load(request_with(value)).token is None
    short = SessionCookies(lambda: "k" * 40, 1)
    time.sleep(2.1)
    expired = short.load(request_with(value))
    assert expired.token is None and expired.changed  # and the cookie is removed


def test_empty_session_removes_the_cookie():
    cookies = SessionCookies(lambda: "k" * 40, 3600)
    assert "Max-Age=0" in cookies.header(Session(), secure=False)


def test_secret_is_asked_for_only_when_needed():
    asked = []
    cookies = SessionCookies(lambda: asked.append(1) or "k" * 40, 3600)
    assert cookies.load(request_with(None)).token is None and not asked  # no cookie: no key needed


def test_csrf():
    session = Session()
    assert not session.csrf_matches("anything") and not session.csrf_matches(None)
    token = session.csrf_token()
    assert session.changed and session.csrf_token() == token
    assert session.csrf_matches(token) and not session.csrf_matches(token + "x") and not session.csrf_matches("")
    session.sign_in("t")
    assert not session.csrf_matches(token)  # a new one after signing in
    session.sign_out()
    assert session.token is None and session.csrf


def test_notice_is_shown_once():
    session = Session()
    session.flash("Signed out.")
    assert session.take_notice() == "Signed out." and session.take_notice() is None
