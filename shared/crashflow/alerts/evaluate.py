"""Which alerts a rule raises for a day, from the aggregate tables the jobs just wrote.

Each kind of rule reads what one job writes, and is evaluated right after that job
(``AFTER``): new signatures after ``signatures`` (with ``top_crashers``' counts), explosive
signatures after ``explosiveness``, regressions after ``top_crashers``, crash rates after
``crashes_per_day``. A rule limited to versions or channels reads the per-version tables;
a channel stands for the versions whose crashes of the day report it (``reports``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crashflow.aggregation.explosiveness import scores_sql
from crashflow.aggregation.jobs import day_bounds
from crashflow.alerts.rules import CrashRateRule, ExplosiveRule, NewSignatureRule, RegressionRule, Rule
from crashflow.trends import returning_signatures

# The job whose run each kind of rule follows.
AFTER = {"new_signature": "signatures", "explosive": "explosiveness", "regression": "top_crashers",
         "crash_rate": "crashes_per_day"}


@dataclass
class Finding:
    """One alert a rule raises: what it is about, and the figures behind it."""

    rule: Rule
    product: str
    signature: str | None
    version: str | None
    day: dt.date
    summary: str
    details: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What "the same alert" means within a rule's window."""
        return "\x1f".join((self.product, self.signature if self.signature is not None else self.version or ""))


class Scope:
    """The products and versions a rule is limited to, as SQL conditions."""

    def __init__(self, connection, rule: Rule, day: dt.date):
        self.rule = rule
        self.values: dict = {}
        self.conditions: list[str] = []
        if rule.products:
            self.conditions.append("product = ANY(:products)")
            self.values["products"] = list(rule.products)
        if rule.scoped_by_version:
            versions = set(rule.versions) if rule.versions else None
            if rule.channels:
                in_channels = channel_versions(connection, day, rule.products, rule.channels)
                versions = in_channels if versions is None else versions & in_channels
            self.conditions.append("version = ANY(:versions)")
            self.values["versions"] = sorted(versions)

    def where(self, *more: str) -> str:
        return " AND ".join([*more, *self.conditions]) or "TRUE"


def channel_versions(connection, day: dt.date, products: list[str], channels: list[str]) -> set[str]:
    """The versions whose crashes of ``day`` report one of ``channels``."""
    start, end = day_bounds(day)
    product_filter = "AND product = ANY(:products)" if products else ""
    rows = connection.run(
        "SELECT DISTINCT version FROM reports WHERE date_processed >= :start AND date_processed < :end "
        f"AND release_channel = ANY(:channels) AND version IS NOT NULL {product_filter}",
        start=start, end=end, channels=list(channels), **({"products": list(products)} if products else {}),
    )
    return {row[0] for row in rows}


def new_signatures(connection, rule: NewSignatureRule, day: dt.date, settings) -> list[Finding]:
    scope = Scope(connection, rule, day)
    table = "top_crashers" if rule.scoped_by_version else "top_crashers_by_product"
    first_since = dt.datetime.combine(day - dt.timedelta(days=rule.new_days - 1), dt.time(), dt.timezone.utc)
    rows = connection.run(f"""
        WITH ranked AS (
            SELECT product, signature, sum(report_count) AS crashes,
                   row_number() OVER (PARTITION BY product ORDER BY sum(report_count) DESC, signature) AS position
            FROM {table} WHERE {scope.where("report_date = :day", "signature <> ''")}
            GROUP BY product, signature
        )
        SELECT r.product, r.signature, r.crashes, r.position, s.first_date
        FROM ranked r JOIN signatures s ON s.signature = r.signature
        WHERE r.position <= :top AND r.crashes >= :min_crashes AND s.first_date >= :first_since
        ORDER BY r.product, r.position
    """, day=day, top=rule.top, min_crashes=rule.min_crashes, first_since=first_since, **scope.values)
    return [
        Finding(rule, product, signature, None, day,
                f"New signature in the top {rule.top} of {product}: {signature} (#{position}, {crashes} crashes "
                f"on {day}; first seen {first_date:%Y-%m-%d %H:%M} UTC)",
                {"position": position, "crashes": int(crashes), "first_seen": first_date.isoformat(),
                 "top": rule.top, "versions": scope.values.get("versions")})
        for product, signature, crashes, position, first_date in rows
    ]


def explosive_signatures(connection, rule: ExplosiveRule, day: dt.date, settings) -> list[Finding]:
    scope = Scope(connection, rule, day)
    if rule.scoped_by_version:
        # The explosiveness job scores whole products: score the versions' counts alike.
        history = (f"(SELECT report_date, product, signature, sum(report_count) AS report_count FROM top_crashers "
                   f"WHERE {scope.where()} GROUP BY 1, 2, 3)")
        source, values = f"({scores_sql(history)})", {"floor": float(settings.explosiveness_floor)}
    else:
        source, values = f"(SELECT * FROM explosiveness WHERE {scope.where('report_date = :day')})", {}
    rows = connection.run(f"""
        SELECT product, signature, day_count, oneday, threeday FROM {source} AS scores
        WHERE {rule.score} >= :threshold AND day_count >= :min_crashes AND signature <> ''
        ORDER BY product, {rule.score} DESC
    """, day=day, threshold=rule.threshold, min_crashes=rule.min_crashes, **scope.values, **values)
    return [
        Finding(rule, product, signature, None, day,
                f"Explosive signature in {product}: {signature} ({rule.score} score "
                f"{oneday if rule.score == 'oneday' else threeday:.1f}, threshold {rule.threshold:g}; "
                f"{day_count} crashes on {day})",
                {"crashes": int(day_count), "oneday": float(oneday), "threeday": float(threeday),
                 "score": rule.score, "threshold": rule.threshold, "versions": scope.values.get("versions")})
        for product, signature, day_count, oneday, threeday in rows
    ]


def regressions(connection, rule: RegressionRule, day: dt.date, settings) -> list[Finding]:
    scope = Scope(connection, rule, day)
    rows = returning_signatures(connection, day, day, rule.quiet_days, rule.min_crashes, scope.where(),
                                by_version=rule.scoped_by_version, **scope.values)
    findings = []
    for product, signature, crashes, versions, _, last_seen in rows:
        quiet = (day - last_seen).days - 1
        findings.append(Finding(
            rule, product, signature, None, day,
            f"Regression in {product} {', '.join(versions)}: {signature} is back ({crashes} crashes on {day}) "
            f"after {quiet} days without crashes (last seen {last_seen})",
            {"crashes": int(crashes), "versions": versions, "last_seen": last_seen.isoformat(), "quiet_days": quiet},
        ))
    return findings


def crash_rates(connection, rule: CrashRateRule, day: dt.date, settings) -> list[Finding]:
    scope = Scope(connection, rule, day)
    version = "version" if rule.per_version else "''"
    rows = connection.run(f"""
        SELECT product, {version} AS version,
               coalesce(sum(report_count) FILTER (WHERE report_date = :day), 0) AS today,
               coalesce(sum(report_count) FILTER (WHERE report_date < :day), 0)
                   / CAST(:baseline_days AS float8) AS baseline
        FROM crashes_per_day
        WHERE {scope.where("report_date >= :baseline_start", "report_date <= :day")}
        GROUP BY 1, 2
        HAVING coalesce(sum(report_count) FILTER (WHERE report_date = :day), 0) >= :min_crashes
           AND coalesce(sum(report_count) FILTER (WHERE report_date < :day), 0) > 0
           AND coalesce(sum(report_count) FILTER (WHERE report_date = :day), 0)
               > CAST(:factor AS float8) * coalesce(sum(report_count) FILTER (WHERE report_date < :day), 0)
                 / CAST(:baseline_days AS float8)
        ORDER BY 1, 2
    """, day=day, baseline_start=day - dt.timedelta(days=rule.baseline_days), baseline_days=float(rule.baseline_days),
        min_crashes=rule.min_crashes, factor=float(rule.factor), **scope.values)
    return [
        Finding(rule, product, None, version or None, day,
                f"Crash rate spike in {product}{' ' + version if version else ''}: {today} crashes on {day}, "
                f"{today / baseline:.1f}x the {rule.baseline_days}-day mean of {baseline:.1f}",
                {"crashes": int(today), "baseline_mean": float(baseline), "ratio": today / baseline,
                 "factor": rule.factor, "baseline_days": rule.baseline_days})
        for product, version, today, baseline in rows
    ]


FINDERS = {"new_signature": new_signatures, "explosive": explosive_signatures, "regression": regressions,
           "crash_rate": crash_rates}
assert set(FINDERS) == set(AFTER)


def findings(connection, rule: Rule, day: dt.date, settings) -> list[Finding]:
    return FINDERS[rule.kind](connection, rule, day, settings)
