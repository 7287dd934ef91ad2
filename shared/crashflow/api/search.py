"""The ``SuperSearch`` endpoint: parse, check permissions, run over Postgres."""

from __future__ import annotations

from crashflow.api.calls import Call, Reply
from crashflow.api.redaction import with_withheld
from crashflow.api.search_sql import Search
from crashflow.api.supersearch import parse_query
from crashflow.fields import PII_PERMISSION, Withheld


def super_search(services, call: Call) -> Reply:
    query = parse_query(
        call.args,
        fields=services.fields.search_fields,
        allow_protected=call.may(PII_PERMISSION),
    )
    with services.database.connection() as connection:
        settings = services.settings
        answer = Search(connection, query, settings.api_search_timeout_ms, settings.api_search_parallel_workers).answer()
    return Reply(200, with_withheld(call, answer, Withheld(fields=set(query.withheld_columns))))
