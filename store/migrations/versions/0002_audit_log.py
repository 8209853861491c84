"""An append-only audit log of who was shown which enterprise's confidential fields.

Every response that returns an enterprise's registered capital, operating metrics or financial amounts
to anyone but the enterprise itself writes one row (``api/security.py``). The log is append-only in
the database itself: a trigger raises on ``UPDATE``, ``DELETE`` and ``TRUNCATE``, so neither a bug
nor a compromised service account using ordinary statements can rewrite who saw what.
"""

from alembic import op

revision = "0002"
down_revision = "0001"

SCHEMA = """
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    viewed_at timestamptz NOT NULL DEFAULT now(),
    api_key_id bigint NOT NULL,
    key_prefix text NOT NULL,
    role text NOT NULL,
    viewer_investor_id bigint,
    viewer_enterprise_id bigint,
    enterprise_id bigint NOT NULL,
    fields text[] NOT NULL CHECK (cardinality(fields) > 0),
    basis text NOT NULL,
    request_id text
);
CREATE INDEX audit_log_enterprise_idx ON audit_log (enterprise_id, viewed_at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

DROP = """
DROP TABLE IF EXISTS audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
