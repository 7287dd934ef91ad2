"""What the fuzz benchmarks (fuzz_collect.py, fuzz_query.py) share: running hypothesis's
generation in several processes at once, and adding up what they saw.

100,000 examples from one hypothesis run in one process take hours here: generating an
example costs 5-7 ms of CPU, hypothesis's record of the examples it has tried grows with
the run, and one client waits for each answer before it sends the next request. So a run is
cut into chunks of at most ``CHUNK`` examples, each its own hypothesis run with its own
seed (different examples, and the same ones again for the same --seed), spread over
``--jobs`` processes that send at once. With --progress DIR each process writes what it has
seen so far to DIR after each chunk: ``python tests/bench/fuzzing.py DIR`` adds those up
while the run goes on, or after it was stopped.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings as hypothesis_settings

CHUNK = 1000
MAX_ERRORS = 10


@dataclass
class Tally:
    """Answers seen: by status, by group (a kind of upload, an endpoint) and status, the
    slowest, the first errors, and anything else a script counts (``extra``)."""

    statuses: collections.Counter = field(default_factory=collections.Counter)
    groups: dict[str, collections.Counter] = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    worst_seconds: float = 0.0
    worst_what: str = ""
    errors: list[str] = field(default_factory=list)
    extra: dict[str, list] = field(default_factory=lambda: collections.defaultdict(list))

    def record(self, group: str, status: str, seconds: float, what: str, error: str | None = None) -> None:
        self.statuses[status] += 1
        self.groups[group][status] += 1
        if seconds > self.worst_seconds:
            self.worst_seconds, self.worst_what = seconds, what
        if error is not None and len(self.errors) < MAX_ERRORS:
            self.errors.append(error)

    def merge(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        for group, counter in other.groups.items():
            self.groups[group].update(counter)
        if other.worst_seconds > self.worst_seconds:
            self.worst_seconds, self.worst_what = other.worst_seconds, other.worst_what
        self.errors.extend(other.errors[: MAX_ERRORS - len(self.errors)])
        for name, values in other.extra.items():
            self.extra[name].extend(values)

    def to_plain(self) -> dict:
        """Picklable across processes (no lambdas inside)."""
        return {"statuses": dict(self.statuses), "groups": {k: dict(v) for k, v in self.groups.items()},
                "worst": [self.worst_seconds, self.worst_what], "errors": self.errors, "extra": dict(self.extra)}

    @classmethod
    def from_plain(cls, plain: dict) -> Tally:
        tally = cls()
        tally.statuses.update(plain["statuses"])
        for group, counter in plain["groups"].items():
            tally.groups[group].update(counter)
        tally.worst_seconds, tally.worst_what = plain["worst"]
        tally.errors = list(plain["errors"])
        for name, values in plain["extra"].items():
            tally.extra[name].extend(values)
        return tally


def save_progress(directory: str | None, name: str, tally: Tally) -> None:
    """Write ``tally`` as ``directory``/``name``.json (replacing the last one, atomically)."""
    if not directory:
        return
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(tally.to_plain()))
    os.replace(path.with_suffix(".tmp"), path)


def load_progress(directory: str) -> Tally:
    """The tallies a run's processes saved in ``directory``, added up."""
    total = Tally()
    for path in sorted(Path(directory).glob("*.json")):
        total.merge(Tally.from_plain(json.loads(path.read_text())))
    return total


def chunks(requests: int, jobs: int, base_seed: int) -> list[tuple[int, int]]:
    """(seed, examples) of each hypothesis run that together make ``requests`` examples:
    at most CHUNK each, and at least one for each of ``jobs`` processes."""
    size = max(1, min(CHUNK, -(-requests // jobs)))
    return [(base_seed * 1_000_003 + index, min(size, requests - start))
            for index, start in enumerate(range(0, requests, size))]


def run_examples(strategy, examples: int, seed: int, test: Callable) -> None:
    """``test(example)`` for ``examples`` examples hypothesis generates from ``strategy``
    with ``seed`` (generation only: no shrinking, no example database)."""

    @hypothesis_seed(seed)
    @hypothesis_settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(example):
        test(example)

    run()


def run_sharded(shard: Callable[[list[tuple[int, int]]], dict], requests: int, jobs: int, base_seed: int) -> Tally:
    """Run ``shard(chunks) -> Tally.to_plain()`` (a module-level function) in ``jobs``
    processes over the chunks of a ``requests``-example run; their tallies added up. A
    shard that fails fails the run."""
    work = chunks(requests, jobs, base_seed)
    shares = [work[index::jobs] for index in range(jobs)]
    total = Tally()
    with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
        for plain in pool.map(shard, [share for share in shares if share]):
            total.merge(Tally.from_plain(plain))
    return total


if __name__ == "__main__":
    progress = load_progress(sys.argv[1])
    print(json.dumps({
        "requests": sum(progress.statuses.values()),
        "answers_by_status": dict(progress.statuses.most_common()),
        "worst_latency_s": round(progress.worst_seconds, 2),
        "worst_latency_of": progress.worst_what,
        "errors": progress.errors,
        "extra": {name: len(values) for name, values in progress.extra.items()},
    }, indent=2))
