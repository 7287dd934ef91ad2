"""Signing in and out in Chromium: a protected field appears and goes again; a wrong
token gets the UI's error page; the token never shows in the page or its address."""

from __future__ import annotations

import pytest
import requests

from browsing import chromium, tab, ui  # noqa: F401  (fixtures)
from conftest import submit
from crashflow.stores.postgres import Database
from crashflow.tokens import TokenStore

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SECRET_URL = "https://intranet.example/private-page"


@pytest.fixture(scope="module")
def private_crash(functions):
    crash_id = submit(functions, "linux-mini.dmp", "UiSignIn", URL=SECRET_URL)
    answer = requests.post(f"{functions['process'].url}/process", params={"crash_id": crash_id}, timeout=120)
    assert answer.status_code == 200, answer.text
    return crash_id


@pytest.fixture(scope="module")
def pii_token(stack):
    return TokenStore(Database(stack)).create(["view_pii"], note="browser test")


def test_sign_in_shows_a_protected_field_and_sign_out_hides_it(tab, private_crash, pii_token):
    page = tab.page
    tab.go(f"/report/index/{private_crash}")
    assert SECRET_URL not in page.content()
    notice = page.locator(".hidden-notice")
    assert "fields hidden (" in notice.inner_text() and "— sign in with a token that has view_pii" in notice.inner_text()
    notice.get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/login/**")
    page.get_by_label("API token").fill(pii_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/report/index/{private_crash}")
    assert "Signed in. Your token has view_pii." in page.locator(".notice").inner_text()
    assert page.locator("table.details").get_by_text(SECRET_URL).is_visible()
    assert pii_token not in page.content() and pii_token not in page.url
    assert not page.locator(".hidden-notice").count()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/report/index/{private_crash}")
    assert "Signed out." in page.locator(".notice").inner_text()
    assert SECRET_URL not in page.content()
    assert page.locator(".hidden-notice").is_visible()


def test_a_wrong_token_gets_an_html_error_page(tab):
    tab.expect_status(403)
    page = tab.page
    tab.go("/login/")
    page.get_by_label("API token").fill("this-is-not-a-token")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.title().startswith("Sign-in failed")
    assert "unknown token" in page.get_by_role("alert").inner_text()
    assert "this-is-not-a-token" not in page.content()
    assert page.get_by_role("link", name="Sign in").is_visible()  # still signed out
