"""bug_associations: which Bugzilla bugs name which signatures.

Each run asks Bugzilla for the bugs whose ``cf_crash_signature`` changed since the last
successful run began (every bug with signatures while ``bugs`` is empty), upserts those bugs,
adds their new signatures and removes the ones they no longer name. One transaction per
run: a failure leaves the previous associations as they were. Without ``bugzilla_url``
the run is recorded ``skipped``, which is not a sync.
"""

from __future__ import annotations

import datetime as dt
import logging

from crashflow.aggregation.bugzilla import Bug, Bugzilla
from crashflow.aggregation.jobs import Job, JobContext, JobSkipped
from crashflow.stores.postgres import transaction

log = logging.getLogger(__name__)

# Bugzilla's change times and ours may differ a little: ask again for the minutes before.
OVERLAP = dt.timedelta(minutes=10)


def store_bug(connection, bug: Bug) -> int:
    """Upsert one bug and make its associations exactly its signatures; rows changed."""
    connection.run(
        "INSERT INTO bugs (id, status, resolution, summary, last_change_time, synced) "
        "VALUES (:id, :status, :resolution, :summary, :changed, now()) "
        "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, resolution = EXCLUDED.resolution, "
        "summary = EXCLUDED.summary, last_change_time = EXCLUDED.last_change_time, synced = now()",
        id=bug.id, status=bug.status, resolution=bug.resolution, summary=bug.summary,
        changed=bug.last_change_time,
    )
    signatures = sorted(bug.signatures)
    connection.run(
        "DELETE FROM bug_associations WHERE bug_id = :id AND NOT (signature = ANY(CAST(:keep AS text[])))",
        id=bug.id, keep=signatures,
    )
    changed = connection.row_count
    if signatures:
        connection.run(
            "INSERT INTO bug_associations (bug_id, signature) "
            "SELECT :id, unnest(CAST(:signatures AS text[])) ON CONFLICT DO NOTHING",
            id=bug.id, signatures=signatures,
        )
        changed += connection.row_count
    return changed


class BugAssociationsJob(Job):
    name = "bug_associations"
    schedule = "30 * * * *"

    def run(self, context: JobContext, start: dt.date, end: dt.date) -> int:
        settings, connection = context.settings, context.connection
        if not settings.bugzilla_url:
            # Not a sync: a later run with a URL must still load every bug.
            raise JobSkipped("no bugzilla_url configured")
        since = context.last_success - OVERLAP if context.last_success else None
        if not connection.run("SELECT EXISTS (SELECT 1 FROM bugs)")[0][0]:
            since = None  # nothing loaded yet (or only runs that did not sync): load every bug
        with Bugzilla(settings.bugzilla_url, settings.bugzilla_api_key, settings.bugzilla_page_size) as bugzilla:
            bugs = list(bugzilla.changed_bugs(since))  # all pages first: a failure changes nothing
        with transaction(connection):
            return sum(store_bug(connection, bug) for bug in bugs)


BUG_ASSOCIATIONS = BugAssociationsJob()
