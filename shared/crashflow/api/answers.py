"""The overview endpoints' answers, computed once per run of the jobs they read.

Their numbers come from the aggregation jobs' tables alone, and only the jobs write those
(each run recorded in ``job_runs``). So an answer is named by the endpoint, its arguments
and the latest finished run of each job it reads (``DEPENDS``): while no new run lands, it
stays what it was. Right after a run, the aggregate function computes the answers the
overview pages ask for (``crashflow.web.overview.precompute``) and keeps them in
``overview_answers``; an endpoint reads the one it needs by its primary key, and computes
(from the same code) only what no run precomputed. On top of that each process keeps
answers in memory for ``api_aggregates_cache_seconds`` (0: never), under the same name, so
a new run is seen at once; callers missing the same answer at the same time compute it once.

A run still going has not finished: until it has, answers stay named by the run before. A
skipped run (another held the job's lock, or the job is not configured) wrote nothing and
names nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Callable, Hashable
from typing import Any

from crashflow.ttlcache import TtlCache

log = logging.getLogger(__name__)

# endpoint -> the jobs whose tables its answers are computed from
DEPENDS: dict[str, tuple[str, ...]] = {
    "Products": ("crashes_per_day",),
    "CrashesPerDay": ("crashes_per_day",),
    "TopCrashers": ("top_crashers", "signatures", "bug_associations"),
    "NewSignatures": ("top_crashers", "signatures"),
    "ExplosiveSignatures": ("explosiveness", "top_crashers"),
    "Regressions": ("top_crashers",),
}
OVERVIEW_DEPENDENCIES = frozenset(job for jobs in DEPENDS.values() for job in jobs)
# Precomputed answers older than this are of windows that ended before yesterday.
KEEP_HOURS = 48

# Within a page (``one_look_at_the_runs``): the latest runs, looked up by its first answer.
_PAGE_RUNS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("overview_page_runs", default=None)

LATEST_RUNS_SQL = """
SELECT j.job, r.id, r.finished
FROM unnest(CAST(:jobs AS text[])) AS j (job)
LEFT JOIN LATERAL (
    SELECT id, finished FROM job_runs
    WHERE job = j.job AND finished IS NOT NULL AND status IN ('ok', 'error')
    ORDER BY started DESC, id DESC LIMIT 1
) AS r ON TRUE
ORDER BY j.job
"""


@contextlib.contextmanager
def one_look_at_the_runs():
    """Within this block (one page) the latest runs are looked up once, for every job the
    overview reads: the page's answers all come from the same runs, for one query."""
    token = _PAGE_RUNS.set({})
    try:
        yield
    finally:
        _PAGE_RUNS.reset(token)


def answer_key(key: tuple) -> str:
    """An endpoint's arguments as text (dates as ISO dates, tuples as lists)."""
    return json.dumps(key, default=str, separators=(",", ":"))


class Answers:
    """Answers of the overview endpoints, named by the runs they come from.

    ``read_stored``: read the precomputed answers; ``store``: keep what is computed there
    (the aggregate function's precomputation, which also never reads them)."""

    def __init__(self, database, memory: TtlCache, read_stored: bool = True, store: bool = False):
        self.database = database
        self.memory = memory
        self.read_stored = read_stored
        self.store = store
        self.computed = 0  # answers this object computed (none stored under the latest runs)

    def latest_runs(self, endpoint: str) -> str:
        """The latest finished run of each job ``endpoint`` reads, as text: its id and end."""
        page = _PAGE_RUNS.get()
        runs = page.get("runs") if page is not None else None
        if runs is None:
            jobs = sorted(OVERVIEW_DEPENDENCIES) if page is not None else DEPENDS[endpoint]
            with self.database.connection() as connection:
                rows = connection.run(LATEST_RUNS_SQL, jobs=list(jobs))
            runs = {job: f"{job}:{run_id}:{finished.isoformat() if finished else ''}" for job, run_id, finished in rows}
            if page is not None:
                page["runs"] = runs
        return ";".join(runs[job] for job in sorted(DEPENDS[endpoint]))

    def get(self, endpoint: str, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The answer of ``endpoint`` for ``key`` (its arguments) as of the latest runs:
        from memory, from ``overview_answers``, or ``compute()`` (which must return JSON
        values: what is stored is what every caller gets)."""
        runs = self.latest_runs(endpoint)
        text_key = answer_key(key)
        return self.memory.get_or_compute((endpoint, text_key, runs),
                                          lambda: self._stored_or_computed(endpoint, text_key, runs, compute))

    def _stored_or_computed(self, endpoint: str, key: str, runs: str, compute: Callable[[], Any]) -> Any:
        if self.read_stored:
            with self.database.connection() as connection:
                rows = connection.run("SELECT answer FROM overview_answers WHERE endpoint = :endpoint AND key = :key "
                                      "AND runs = :runs", endpoint=endpoint, key=key, runs=runs)
            if rows:
                return json.loads(rows[0][0])
        # Round-tripped, so that a computed answer is exactly what a stored one reads back.
        text = json.dumps(compute())
        self.computed += 1
        answer = json.loads(text)
        if self.store:
            with self.database.connection() as connection:
                connection.run(
                    "INSERT INTO overview_answers (endpoint, key, runs, answer) VALUES (:endpoint, :key, :runs, :answer) "
                    "ON CONFLICT (endpoint, key) DO UPDATE SET runs = EXCLUDED.runs, answer = EXCLUDED.answer, "
                    "computed_at = now()", endpoint=endpoint, key=key, runs=runs, answer=text)
        return answer

    def forget_old(self) -> int:
        """Drop the precomputed answers of windows long past; how many."""
        with self.database.connection() as connection:
            connection.run("DELETE FROM overview_answers WHERE computed_at < now() - make_interval(hours => :hours)",
                           hours=KEEP_HOURS)
            return connection.row_count
