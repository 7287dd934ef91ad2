"""The ``SuperSearch`` endpoint: parse, check permissions, run over Postgres."""

from __future__ import annotations

from crashflow.api.calls import Call, Reply
from crashflow.api.redaction import PII_PERMISSION
from crashflow.api.search_sql import Search
from crashflow.api.supersearch import parse_query


def super_search(services, call: Call) -> Reply:
    query = parse_query(
        call.args,
        is_protected=services.redactor.is_protected,
        allow_protected=call.may(PII_PERMISSION),
    )
    with services.database.connection() as connection:
        return Reply(200, Search(connection, query, services.settings.api_search_timeout_ms).answer())
