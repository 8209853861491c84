"""Listing and tier standards imported by operators (:mod:`store.standards`).

* ``listing_standards``: one row per imported version of the standards file
  (:mod:`matching.readiness.standards`): its ``version`` (unique), when and by whom it was imported, the
  canonical JSON ``content`` and its SHA-256 ``hash``. The newest row is the one in force; while the table
  is empty the standards shipped with the code are. Rows are never updated: a correction is a new version.
"""

from alembic import op

revision = "0007"
down_revision = "0006"

SCHEMA = """
CREATE TABLE listing_standards (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version text NOT NULL UNIQUE CHECK (length(btrim(version)) BETWEEN 1 AND 40),
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by text NOT NULL CHECK (length(imported_by) BETWEEN 1 AND 200),
    content jsonb NOT NULL,
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX listing_standards_recent_idx ON listing_standards (imported_at DESC, id DESC);
"""

DROP = """
DROP TABLE IF EXISTS listing_standards;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
