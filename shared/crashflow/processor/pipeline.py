"""An ordered list of small rules applied to one crash; a rule that fails adds a note,
unless a store it needed failed (``StoreUnavailable``): that fails the whole crash."""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field

from crashflow.processor.annotations import RawCrash
from crashflow.stores.errors import StoreUnavailable

log = logging.getLogger(__name__)


@dataclass
class CrashContext:
    """Everything the rules read and write for one crash."""

    crash_id: str
    raw_crash: dict
    dumps: dict[str, bytes]
    processed: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ruleset: str = "default"
    # Look symbols up again even where the bucket lacked them lately (reprocessing).
    fresh_symbols: bool = False
    # The typed view of ``raw_crash``, set by the annotation rules.
    annotations: RawCrash = field(default_factory=RawCrash)


class Rule(abc.ABC):
    """One step of processing. Subclasses implement ``action``; ``predicate`` may skip it."""

    def predicate(self, crash: CrashContext) -> bool:
        return True

    @abc.abstractmethod
    def action(self, crash: CrashContext) -> None:
        """Read and change ``crash``."""

    def __repr__(self) -> str:
        return type(self).__name__


class Pipeline:
    """Runs its rules in order over one crash."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def run(self, crash: CrashContext) -> CrashContext:
        for rule in self.rules:
            try:
                if rule.predicate(crash):
                    rule.action(crash)
            except StoreUnavailable:
                # A store the rule needs (say, the symbols bucket) failed: not the crash's
                # fault. Let through, so the crash is not stored half-processed and the
                # queue delivers it again.
                raise
            except Exception as error:  # a broken rule must not lose the crash
                log.exception("rule %r failed on %s", rule, crash.crash_id)
                # The notes are public: the error's message may quote an annotation's
                # value, so only its type goes there (the log has the rest).
                crash.notes.append(f"{rule!r} failed: {type(error).__name__}")
        return crash
