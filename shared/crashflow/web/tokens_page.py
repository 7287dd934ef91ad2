"""API tokens in the browser ``/tokens/``: the signed-in user's own token (permissions,
expiry); with ``manage_tokens``, every token (never its secret), a form that makes one (its
permissions, expiry and a note saying whom it is for; the new token is shown once, on the
answer to the form) and a Revoke button for each live one but the user's own (revoking it
would lock them out); and the audit trail of every
token made or revoked (who, when, what)."""

from __future__ import annotations

from crashflow.api.auth import TOKEN_HEADER
from crashflow.api.calls import Reply
from crashflow.api.errors import BadRequest, Forbidden
from crashflow.tokens import MANAGE_TOKENS, PERMISSIONS, TokenStore, UnknownPermission
from crashflow.web.page import Page

# Never kept by any cache: the answer to the form holds a new token.
NO_STORE = {"Cache-Control": "no-store"}
MAX_NOTE = 200
EXPIRY_CHOICES = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "a year"), ("", "never"))
PERMISSION_HELP = {
    "view_pii": "see protected fields (URLs, e-mail addresses, comments, annotations marked private)",
    "view_rawdump": "download minidumps and raw crashes",
    "reprocess_crashes": "reprocess crashes (the Reprocess button, /api/Reprocessing/)",
    "run_custom_queries": "run custom queries",
    "upload_symbols": "upload symbol files",
    "view_symbols": "read symbol files from /symbols/ (when CRASHFLOW_SYMBOLS_PUBLIC=false)",
    "manage_tokens": "make and revoke tokens on this page",
}
assert set(PERMISSION_HELP) == set(PERMISSIONS)


def _store(page: Page) -> TokenStore:
    return page.services.tokens.store


def _own_token(page: Page) -> str | None:
    return page.request.headers.get(TOKEN_HEADER, "").strip() or page.session.token


def tokens_page(page: Page) -> Reply:
    """GET: the page; POST: make a token (manage_tokens) and show it once."""
    token = _own_token(page)
    if token is None:
        return page.redirect(page.link("/login/", carry=False, next="/tokens/"))
    store = _store(page)
    me = store.info(token)
    values = dict(nav="tokens", me=me, choices=PERMISSION_HELP, expiry_choices=EXPIRY_CHOICES, created=None,
                  problem=None, form={})
    status = 200
    if page.request.method == "POST":
        if not page.may(MANAGE_TOKENS):
            raise Forbidden("making tokens needs a token with manage_tokens")
        form = page.request.form
        values["form"] = {"permissions": form.getlist("permission"), "expires_days": form.get("expires_days", ""),
                          "note": form.get("note", "")}
        try:
            values["created"] = _create(store, me, form)
        except BadRequest as error:
            values["problem"], status = str(error), 400
    if page.may(MANAGE_TOKENS):
        values.update(tokens=store.list(), events=store.events())
    return page.render("tokens.html", status, NO_STORE, **values)


def _create(store: TokenStore, me, form) -> dict:
    note = form.get("note", "").strip()
    if not note:
        raise BadRequest("Say whom or what the token is for (the note), so that it can be told apart later.")
    if len(note) > MAX_NOTE:
        raise BadRequest(f"The note is too long (at most {MAX_NOTE} characters).")
    raw_days = form.get("expires_days", "").strip()
    try:
        expires_days = float(raw_days) if raw_days else None
    except ValueError:
        raise BadRequest("The expiry must be a number of days, or never.") from None
    permissions = form.getlist("permission")
    try:
        token = store.create(permissions, expires_days, note, actor_id=me.id if me else None)
    except (UnknownPermission, ValueError) as error:
        raise BadRequest(str(error)) from None
    return {"token": token, "info": store.info(token)}


def revoke_token(page: Page, token_id: int) -> Reply:
    """POST: revoke the token ``token_id`` (manage_tokens)."""
    if not page.may(MANAGE_TOKENS):
        raise Forbidden("revoking tokens needs a token with manage_tokens")
    store = _store(page)
    me = store.info(_own_token(page) or "")
    if me and me.id == token_id:
        # It would sign this user out for good, with no token left to sign in with.
        page.session.flash(f"Token #{token_id} is the one you are signed in with: revoking it would lock you out, "
                           "so it was not revoked. Sign in with another token that has manage_tokens to revoke "
                           "it, or revoke it on the command line (crashflow token revoke TOKEN).")
    elif store.revoke_id(token_id, me.id if me else None):
        page.session.flash(f"Token #{token_id} revoked: whoever signed in with it is signed out on their next page.")
    else:
        page.session.flash(f"Token #{token_id} was already revoked (or does not exist).")
    return page.redirect("/tokens/")
