"""Sign-in (``/login/``) and sign-out (``/logout/``): an API token kept in the session.

The token is checked as an ``Auth-Token`` header would be (rate limits included, so
guessing tokens through the form is slowed down as through the API); it never goes into a
URL, a page or a log line.
"""

from __future__ import annotations

from crashflow.api.errors import Forbidden
from crashflow.web.page import Page, safe_next

TOKEN_FIELD = "token"


def login_page(page: Page) -> object:
    """GET: the form; POST: check the token, keep it, go where the user was going."""
    next_url = safe_next(page.request.values.get("next"))
    if page.request.method != "POST":
        return page.render("login.html", next_url=next_url)
    token = page.request.form.get(TOKEN_FIELD, "").strip()
    if not token:
        return page.render("login.html", 400, next_url=next_url, problem="Paste an API token into the field.")
    try:
        permissions = page.app.gate.admit(page.request, token=token)
    except Forbidden as error:
        reason = str(error).removeprefix("bad Auth-Token: ")
        return page.render("login.html", 403, next_url=next_url,
                           problem=f"That token cannot sign you in ({reason}). Check it, or ask for a new one.")
    page.session.sign_in(token)
    granted = ", ".join(sorted(permissions)) or "no permissions"
    page.session.flash(f"Signed in. Your token has {granted}.")
    return page.redirect(next_url)


def logout_page(page: Page) -> object:
    """POST only (a link could be followed by anything that prefetches)."""
    page.session.sign_out()
    page.session.flash("Signed out.")
    return page.redirect(safe_next(page.request.form.get("next")))
