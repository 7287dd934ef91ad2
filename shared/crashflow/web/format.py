"""How the UI writes numbers, shares, dates and durations (Jinja filters; pure functions)."""

from __future__ import annotations

import datetime as dt
import functools

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from crashflow.api.errors import BadRequest
from crashflow.api.supersearch import parse_date

MISSING = "—"

# (seconds in the unit, short name); durations name their two largest units.
DURATION_UNITS = (
    (365 * 86400, "year"),
    (86400, "day"),
    (3600, "h"),
    (60, "min"),
    (1, "s"),
)
# Units that take a plural "s" (the abbreviations do not).
WORD_UNITS = {"year", "day"}


def number(value) -> str:
    """``1234567`` -> ``1,234,567``; anything not a number as it is; None -> a dash."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def percent(part, whole=None) -> str:
    """A share rounded to one decimal with a ``%``: ``percent(0.2115)`` or
    ``percent(11, 52)`` -> ``21.2%``. A share too small to show is ``<0.1%``, not ``0.0%``."""
    if whole is not None:
        if not whole:
            return MISSING
        share = (part or 0) / whole
    else:
        if part is None:
            return MISSING
        share = part
    value = share * 100
    if 0 < value < 0.05:
        return "<0.1%"
    return f"{value:.1f}%"


def _unit(count: int, name: str) -> str:
    if name in WORD_UNITS:
        return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{count} {name}"


def duration(seconds) -> str:
    """Seconds in human units, the two largest that apply: ``200`` -> ``3 min 20 s``,
    ``93784`` -> ``1 day 2 h``. None or a non-number -> a dash."""
    try:
        remaining = int(seconds)
    except (TypeError, ValueError):
        return MISSING
    if remaining < 0:
        return MISSING
    if remaining == 0:
        return "0 s"
    parts = []
    for size, name in DURATION_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(_unit(count, name))
        elif parts:
            break  # "1 day 0 h" says nothing "1 day" does not
        if len(parts) == 2:
            break
    return " ".join(parts)


def parse_time(value) -> dt.datetime | None:
    """A datetime (UTC when it carries no zone) from a datetime or an ISO string; else None."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            moment = parse_date(value)
        except BadRequest:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def utc(value, seconds: bool = False) -> str:
    """``2026-11-30 14:03 UTC``; what is not a time comes back as text (None: a dash)."""
    moment = parse_time(value)
    if moment is None:
        return MISSING if value in (None, "") else str(value)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def relative(value, now: dt.datetime | None = None) -> str:
    """``3 h ago``, ``2 days ago``, ``just now``, ``in 5 min`` (one unit, rounded down)."""
    moment = parse_time(value)
    if moment is None:
        return ""
    now = now or dt.datetime.now(dt.timezone.utc)
    delta = (now - moment).total_seconds()
    if abs(delta) < 45:
        return "just now"
    for size, name in DURATION_UNITS:
        if abs(delta) >= size:
            text = _unit(int(abs(delta) // size), name)
            return f"{text} ago" if delta > 0 else f"in {text}"
    return "just now"  # pragma: no cover (the loop ends at one second)


def short_path(path: str | None) -> str:
    """The last two parts of a source path (the full path goes in a tooltip)."""
    if not path:
        return ""
    parts = path.replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else path


SPARK_WIDTH, SPARK_HEIGHT = 120, 24


def sparkline_points(counts, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> str:
    """An SVG polyline's points for ``counts`` (one per day, zeros included): days spread
    over ``width``, zero at the bottom, the highest count at the top (a 1-pixel margin)."""
    values = [int(count or 0) for count in counts or []]
    if not values:
        return ""
    top = max(values) or 1
    usable = height - 2
    return " ".join(map("{},{:g}".format, _spark_xs(len(values), width),
                        [round(height - 1 - usable * value / top, 1) for value in values]))


@functools.lru_cache(maxsize=64)
def _spark_xs(days: int, width: int) -> tuple[str, ...]:
    """The x of each day of a sparkline (the same for every line of as many days)."""
    step = width / (days - 1) if days > 1 else 0
    return tuple(f"{round(n * step, 1):g}" for n in range(days))


def sparkline(counts, first_day, what: str = "Crashes") -> Markup:
    """A small line of ``counts`` (one per day from ``first_day``) drawn as SVG on the
    server, its numbers in its accessible name and tooltip; a dot on the last day. Built in
    Python, not a template macro: the top-crashers page draws fifty of them."""
    counts = [int(count or 0) for count in counts or []]
    points = sparkline_points(counts)
    listed = ", ".join(map(str, counts))
    label = escape(f"{what} per day from {first_day}: {listed}")
    line = f'<polyline points="{points}" class="spark-line"/>' if len(counts) > 1 else ""
    x, _, y = points.rpartition(" ")[2].partition(",")
    return Markup(
        f'<svg class="spark" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" '
        f'role="img" data-counts="{",".join(map(str, counts))}" aria-label="{label}"><title>{label}</title>'
        f'<line x1="0" y1="{SPARK_HEIGHT - 1}" x2="{SPARK_WIDTH}" y2="{SPARK_HEIGHT - 1}" class="spark-base"/>{line}'
        f'<circle cx="{x}" cy="{y}" r="2" class="spark-dot"/></svg>')


# Socorro's schemas write their field descriptions in Markdown. Raw HTML in them stays text,
# and no image is fetched; markdown-it refuses javascript: and data: links by itself.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable("image")


# The descriptions are the field definitions' (a few hundred, fixed): the data dictionary's
# page would otherwise spend two thirds of its time rendering the same ones again.
@functools.lru_cache(maxsize=4096)
def markdown(text) -> Markup:
    """A field description (Markdown) as HTML."""
    return Markup(MARKDOWN.render(str(text or "")))


FILTERS = {
    "markdown": markdown,
    "number": number,
    "percent": percent,
    "duration": duration,
    "utc": utc,
    "relative": relative,
    "short_path": short_path,
    "sparkline_points": sparkline_points,
}
