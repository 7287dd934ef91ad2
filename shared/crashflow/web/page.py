"""What a page handler works with (``Page``): the services, the caller's permissions from
their session, the API's own endpoint functions, templates and links.

A page asks the API's endpoint functions (``Page.ask``), so it shows exactly what the API
answers, redaction included. Jinja2 escapes every value, so crash data cannot inject markup.
"""

from __future__ import annotations

import http
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jinja2
from werkzeug.datastructures import MultiDict

from crashflow import __version__
from crashflow.api.calls import Call, Reply
from crashflow.api.redaction import WITHHELD_KEY
from crashflow.api.supersearch import join_value
from crashflow.fields import PII_PERMISSION
from crashflow.web.format import FILTERS, sparkline

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("crashflow.web", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _defined(function):
    """A filter that takes a missing value (a key the crash does not have) as None."""
    def wrapper(value, *args, **kwargs):
        return function(None if isinstance(value, jinja2.Undefined) else value, *args, **kwargs)
    return wrapper


TEMPLATES.filters.update({name: _defined(function) for name, function in FILTERS.items()})
TEMPLATES.globals["sparkline"] = sparkline
# Carried from page to page in every link (SuperSearch's own names), so that a product,
# version or date range chosen once stays chosen.
CARRIED = ("product", "version", "date")
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class NavItem:
    key: str  # what a template names as its ``nav`` to be marked current
    label: str
    path: str
    carries: tuple[str, ...]  # which of the carried parameters the page takes


# The header's links, in order.
NAV = [
    NavItem("home", "Products", "/", ()),
    NavItem("search", "Super Search", "/search/", CARRIED),
    NavItem("topcrashers", "Top crashers", "/topcrashers/", ("product", "version", "days")),
    NavItem("documentation", "API", "/documentation/", ()),
]


@dataclass
class PageRequest:
    """What an endpoint function reads of a request, made by a page."""

    args: MultiDict
    form: MultiDict = field(default_factory=MultiDict)
    headers: dict = field(default_factory=dict)


def ask(services, permissions: frozenset[str], endpoint, params=(), form=(), **named) -> Reply:
    """``endpoint`` (an API endpoint function) called as a caller with ``permissions``, with
    ``params`` and ``named`` as its query string (and ``form`` as its form)."""
    pairs = list(params.items() if hasattr(params, "items") else params) + list(named.items())
    request = PageRequest(MultiDict([(name, str(value)) for name, value in pairs]), MultiDict(form))
    return endpoint(services, Call(request, permissions))


def query_string(params) -> str:
    """``params`` (a mapping or (name, value) pairs; list values repeat, None is left out)."""
    items = params.items() if hasattr(params, "items") else params
    pairs = []
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((name, str(item)) for item in values if item is not None)
    return urlencode(pairs)
TEMPLATES.globals["NAV"] = NAV


class Page:
    """One page request."""

    def __init__(self, app, request, session, permissions: frozenset[str], notices: list[str] | None = None):
        self.app = app
        self.services = app.services
        self.request = request
        self.session = session
        self.permissions = permissions
        self.notices = list(notices or [])
        # What the page is about that its query string does not say (a product home's
        # product is in its path; its window is a number of days, Super Search's a date
        # range): the header's links carry these as well.
        self.context: dict = {}
        notice = session.take_notice()
        if notice:
            self.notices.insert(0, notice)

    # -- the caller

    @property
    def signed_in(self) -> bool:
        return self.session.token is not None

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def call(self) -> Call:
        return Call(self.request, self.permissions)

    def withheld_note(self, answer: dict) -> dict | None:
        """An API answer's ``_withheld`` note (None when there is none). A caller with
        view_pii gets no note: an annotation of that name is then the crash's own."""
        note = answer.get(WITHHELD_KEY) if isinstance(answer, dict) else None
        return None if self.may(PII_PERMISSION) or not isinstance(note, dict) else note

    def split_withheld(self, answer: dict) -> tuple[dict, int | None]:
        """An API answer without its ``_withheld`` note, and how many fields the note says
        were left out (None when there is no note)."""
        note = self.withheld_note(answer)
        if note is None:
            return answer, None
        return {key: value for key, value in answer.items() if key != WITHHELD_KEY}, int(note.get("count", 0))

    def withheld_fields(self, answer: dict) -> list[str]:
        """The fields an API answer's ``_withheld`` note names (an installation's own
        annotations are only counted there: their names may be private too)."""
        note = self.withheld_note(answer)
        return [str(name) for name in note.get("fields") or []] if note else []

    def csrf_token(self) -> str:
        return self.session.csrf_token()

    # -- the API

    def ask(self, endpoint, params=(), form=(), **named) -> Reply:
        """``endpoint`` (an API endpoint function) with ``params`` and ``named`` as its
        query string (and ``form`` as its form)."""
        return ask(self.services, self.permissions, endpoint, params, form, **named)

    # -- links

    @property
    def args(self) -> MultiDict:
        return self.request.args

    @property
    def current_url(self) -> str:
        query = self.request.query_string.decode("latin-1")
        return f"{self.request.path}?{query}" if query else self.request.path

    def carried(self) -> list[tuple[str, str]]:
        return [(name, value) for name in CARRIED for value in self.args.getlist(name) if value]

    def link(self, path: str, params=(), carry: bool = True, **more) -> str:
        """``path`` with the carried parameters, then ``params`` and ``more`` (which
        replace carried ones of the same name; a None value removes one)."""
        given = list(params.items() if hasattr(params, "items") else params) + list(more.items())
        names = {name for name, _ in given}
        pairs = [(name, value) for name, value in self.carried() if name not in names] if carry else []
        pairs += given
        query = query_string(pairs)
        return f"{path}?{query}" if query else path

    def links(self, path: str, name: str, values, **rest) -> dict:
        """``link(path, carry=False, name=value, **rest)`` for each of ``values``, by value:
        the rest encoded once (a page of fifty signatures links each to its signature page)."""
        common = query_string(rest.items())
        return {value: f"{path}?{urlencode([(name, str(value))])}" + (f"&{common}" if common else "")
                for value in values}

    def nav_link(self, item: NavItem) -> str:
        """The header's link to ``item``, with what this page has of the parameters it takes."""
        pairs = []
        for name in item.carries:
            values = [value for value in self.args.getlist(name) if value] or self.context.get(name)
            pairs.append((name, values or None))
        return self.link(item.path, pairs, carry=False)

    def here(self, **changes) -> str:
        """This page's URL with ``changes`` (None removes a parameter)."""
        pairs = [(name, value) for name, value in self.args.items(multi=True) if name not in changes]
        return self.link(self.request.path, pairs + list(changes.items()), carry=False)

    def filter_link(self, field: str, term) -> str:
        """This page narrowed to ``field`` = ``term`` (taken literally), from page one."""
        return self.here(**{field: join_value(False, "=", str(term)), "page": None})

    def static(self, name: str) -> str:
        return self.app.static.url(name)

    # -- answers

    def render(self, template: str, status: int = 200, headers=None, **values) -> Reply:
        html = TEMPLATES.get_template(template).render(page=self, version=__version__, **values)
        return Reply(status, html, {"Content-Type": HTML, **(headers or {})})

    def error(self, status: int, message: str, headers=None, **values) -> Reply:
        """The UI's error page: the status in its title, the reason in words (``values``:
        more for the template, such as ``known_products``)."""
        return self.render("error.html", status, headers, code=status,
                           title=http.HTTPStatus(status).phrase, message=message, **values)

    def redirect(self, location: str, status: int = 303) -> Reply:
        return Reply(status, "", {"Location": location, "Content-Type": HTML})


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after signing in or out: a path on this site only (never ``//host``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
