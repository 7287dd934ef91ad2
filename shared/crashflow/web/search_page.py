"""Super Search ``/search/``: a filter builder over every SuperSearch field, date presets,
facets, columns, sorting, pages with the true total, the same query as an API URL, and CSV.

The builder form submits rows (``field``, ``operator``, ``value``); the page answers with a
redirect to the same query in SuperSearch's own parameters, the URL a user bookmarks.
"""

from __future__ import annotations

import csv
import io

from crashflow.api import search
from crashflow.api.calls import Reply, list_param
from crashflow.api.errors import BadRequest, Forbidden
from crashflow.api.supersearch import DEFAULT_FACETS, MAX_RESULTS, MAX_WINDOW
from crashflow.web.page import Page, query_string
from crashflow.web.searchform import (
    PAGE_SIZES,
    FieldCatalog,
    Paging,
    canonical_query,
    columns,
    current_preset,
    filter_rows,
    presets,
    search_params,
    sort_key,
)

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def search_page(page: Page) -> Reply:
    args = page.args
    if "field" in args:  # the builder was submitted: the same query in SuperSearch's words
        return page.redirect(f"/search/?{query_string(canonical_query(args, keep_page_params=False))}")
    catalog = FieldCatalog(page)
    params = search_params(args)
    values = dict(nav="search", catalog=catalog, rows=filter_rows(args),
                  presets=presets(), preset=current_preset(args), page_sizes=PAGE_SIZES,
                  facets=list_param(args, "_facets") if "_facets" in args else list(DEFAULT_FACETS),
                  chosen_columns=columns(args, catalog), result=None)
    if not params:  # nothing asked yet: the form alone
        return page.render("search.html", **values)
    try:
        paging = Paging.of(args)
        query = [(name, value) for name, value in params if name not in ("_columns", "_results_number")]
        query += [("_columns", ",".join(values["chosen_columns"])), ("_results_number", str(paging.size)),
                  ("_results_offset", str(paging.offset))]
        result, hidden = page.split_withheld(page.ask(search.super_search, query).body)
    except (BadRequest, Forbidden) as error:
        return page.render("search.html", error.status, problem=str(error), **values)
    values.update(
        result=result, hidden=hidden, paging=paging, sort=sort_key(args), max_window=MAX_WINDOW,
        api_url=f"/api/SuperSearch/?{query_string(query)}",
        csv_url=f"/search/results.csv?{query_string([p for p in params if p[0] != '_results_number'])}",
    )
    return page.render("search.html", **values)


def csv_cell(value) -> str:
    """A value for a spreadsheet: text that would run as a formula gets a leading quote."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def search_csv(page: Page) -> Reply:
    """``/search/results.csv?<search>``: the search's results (the first 10,000, as far as
    SuperSearch pages), its columns, as CSV. ``X-Total-Count`` says how many matched."""
    catalog = FieldCatalog(page)
    chosen = columns(page.args, catalog)
    params = [(name, value) for name, value in search_params(page.args)
              if name not in ("_columns", "_results_number", "_facets")]
    params += [("_columns", ",".join(chosen)), ("_facets", "")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chosen)
    offset, total = 0, 0
    while True:
        body = page.ask(search.super_search, params + [("_results_number", str(MAX_RESULTS)),
                                                        ("_results_offset", str(offset))]).body
        total = body["total"]
        for hit in body["hits"]:
            writer.writerow([csv_cell(hit.get(name)) for name in chosen])
        offset += len(body["hits"])
        if not body["hits"] or offset >= min(total, MAX_WINDOW):
            break
    return Reply(200, out.getvalue(), {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="crashflow-search.csv"',
        "X-Total-Count": str(total),
    })
