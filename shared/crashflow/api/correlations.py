"""``Correlations``: the modules and add-ons over-represented in a signature's crashes, as
the ``correlations`` job last computed them (Socorro's correlations tab).

``GET /api/Correlations/?signature=S[&product=P...]`` -> ``{"report_date", "hits": [{product,
os_name, kind, name, signature_count, signature_share, baseline_count, baseline_share}],
"total"}``: the latest day the job kept any for the signature (and products), strongest
first within each product and OS. Shares are fractions (0..1).
"""

from __future__ import annotations

from crashflow.api.calls import Call, Reply, check_known_params, list_param
from crashflow.api.errors import BadRequest
from crashflow.api.search_sql import as_json_value

COLUMNS = ("product", "os_name", "kind", "name", "signature_count", "signature_share",
           "baseline_count", "baseline_share")
LATEST_SQL = """
SELECT report_date, {columns} FROM correlations
WHERE signature = :signature {products}
  AND report_date = (SELECT max(report_date) FROM correlations WHERE signature = :signature {products})
ORDER BY product, os_name, signature_share - baseline_share DESC, kind, name
"""


def correlations(services, call: Call) -> Reply:
    check_known_params(call.args, {"signature", "product"})
    signature = call.args.get("signature")
    if not signature:
        raise BadRequest("signature is required")
    products = list_param(call.args, "product", split=False)
    sql = LATEST_SQL.format(columns=", ".join(COLUMNS),
                            products="AND product = ANY(:products)" if products else "")
    values = {"signature": signature, **({"products": products} if products else {})}
    with services.database.connection() as connection:
        rows = connection.run(sql, **values)
    hits = [{name: as_json_value(value) if not isinstance(value, float) else round(value, 4)
             for name, value in zip(COLUMNS, row[1:])} for row in rows]
    return Reply(200, {
        "report_date": rows[0][0].isoformat() if rows else None,
        "hits": hits,
        "total": len(hits),
    })
