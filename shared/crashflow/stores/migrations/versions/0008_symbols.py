"""Symbols that arrive late.

- ``reports.missing_modules``: the modules a crash's stackwalk had no symbols for, as an
  object keyed by module id (``<debug file>/<debug id>``, ``layout.module_id``) of
  ``{debug_file, debug_id, code_file, code_id}``. A symbol upload finds the crashes that
  needed it with ``missing_modules ?| <module ids>`` (the GIN index; partial, as most
  crashes miss nothing and every processed crash pays for every index on ``reports``), and
  the missing-symbols report lists them per day and product.
- ``symbol_uploads``: each symbol file stored, whatever the upload path, in order: every
  process instance reads the new rows every few seconds and forgets what it knew of those
  files (a cached "the bucket has no such file", an older copy).

Revision ID: 0008
"""

from alembic import op

revision = "0008"
down_revision = "0007"

SCHEMA = """
ALTER TABLE reports ADD COLUMN missing_modules jsonb;
CREATE INDEX reports_missing_modules ON reports USING gin (missing_modules) WHERE missing_modules IS NOT NULL;
CREATE TABLE symbol_uploads (
    id          bigserial PRIMARY KEY,
    module      text NOT NULL,
    symbol_key  text NOT NULL,
    uploaded    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX symbol_uploads_module ON symbol_uploads (module);
"""


def upgrade():
    op.execute(SCHEMA)


def downgrade():
    op.execute("DROP TABLE symbol_uploads; DROP INDEX reports_missing_modules; "
               "ALTER TABLE reports DROP COLUMN missing_modules")
