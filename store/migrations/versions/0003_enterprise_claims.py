"""Enterprises' own claims to credentials, pending until staff verify them; verifications in the audit log.

Tier, boards and qualifications are facts the platform vouches for: staff and imports set them on
``enterprises``. An enterprise key that sends them stores a **claim** here instead (who, when, what),
shown as "企业自报，待核验" and never read by the snapshot (so never a ranking feature or a reason)
until staff verify it; a verified claim is applied to ``enterprises`` and a rejected one is kept as
such. Every decision writes one ``audit_log`` row (``action`` ``claim_verified`` or
``claim_rejected``; the log stays append-only by its trigger).
"""

from alembic import op

revision = "0003"
down_revision = "0002"

SCHEMA = """
CREATE TABLE enterprise_claims (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    field text NOT NULL CHECK (field IN ('tier', 'boards', 'qualifications')),
    value jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected', 'superseded')),
    claimed_by_key_id bigint NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    decided_by_key_id bigint,
    decided_at timestamptz,
    note text CHECK (length(note) <= 2000),
    CHECK ((status IN ('pending', 'superseded')) = (decided_at IS NULL))
);
CREATE UNIQUE INDEX enterprise_claims_one_pending ON enterprise_claims (enterprise_id, field)
    WHERE status = 'pending';

ALTER TABLE audit_log ADD COLUMN action text NOT NULL DEFAULT 'viewed'
    CHECK (action IN ('viewed', 'claim_verified', 'claim_rejected'));
"""

DROP = """
ALTER TABLE audit_log DROP COLUMN IF EXISTS action;
DROP TABLE IF EXISTS enterprise_claims;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
