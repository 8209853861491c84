"""Tier history: every change of an enterprise's tier, boards or qualifications, with when and from where.

* ``tier_history``: one row per change (the enterprise's state *after* it: tier, boards, qualifications),
  ``changed_at`` (the transaction's time) and ``source``: ``import`` (bulk import, ``capconnect import``,
  ``POST /v1/imports``, the demo and generated markets), ``api`` (the API, the console, a verified claim),
  ``migration`` (the backfill below) or ``sql`` (a change made outside the service, e.g. with psql: it is
  recorded all the same, only its origin is not known).
* Written by two statement-level triggers on ``enterprises`` (after INSERT, after UPDATE), so every path
  that writes an enterprise records its change in the same transaction, whether or not the path knew about
  history: an update that leaves the three fields as they were (boards and qualifications compared as sets)
  writes nothing. The service names the source with the transaction-local setting
  ``capconnect.change_source`` (:func:`store.tier_history.mark_source`).
* Backfill: each existing enterprise's current state, ``source = 'migration'``, at migration time (the
  history before this migration is unknown and not invented).
"""

from alembic import op

revision = "0009"
down_revision = "0008"

SCHEMA = """
CREATE TABLE tier_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    tier text NOT NULL,
    boards text[] NOT NULL DEFAULT '{}',
    qualifications text[] NOT NULL DEFAULT '{}',
    changed_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL CHECK (source IN ('import', 'api', 'migration', 'sql'))
);
CREATE INDEX tier_history_enterprise_idx ON tier_history (enterprise_id, id);

CREATE FUNCTION tier_history_source() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_setting('capconnect.change_source', true) IN ('import', 'api', 'migration')
                THEN current_setting('capconnect.change_source', true) ELSE 'sql' END $$;

CREATE FUNCTION tier_history_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tier_history (enterprise_id, tier, boards, qualifications, source)
    SELECT n.id, n.tier, n.boards, n.qualifications, tier_history_source() FROM tier_new n ORDER BY n.id;
    RETURN NULL;
END $$;

CREATE FUNCTION tier_history_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tier_history (enterprise_id, tier, boards, qualifications, source)
    SELECT n.id, n.tier, n.boards, n.qualifications, tier_history_source()
    FROM tier_new n JOIN tier_old o ON o.id = n.id
    WHERE n.tier IS DISTINCT FROM o.tier
       OR NOT (n.boards @> o.boards AND o.boards @> n.boards)
       OR NOT (n.qualifications @> o.qualifications AND o.qualifications @> n.qualifications)
    ORDER BY n.id;
    RETURN NULL;
END $$;

CREATE TRIGGER enterprises_tier_history_insert AFTER INSERT ON enterprises
    REFERENCING NEW TABLE AS tier_new FOR EACH STATEMENT EXECUTE FUNCTION tier_history_inserted();
CREATE TRIGGER enterprises_tier_history_update AFTER UPDATE ON enterprises
    REFERENCING OLD TABLE AS tier_old NEW TABLE AS tier_new FOR EACH STATEMENT EXECUTE FUNCTION tier_history_updated();

INSERT INTO tier_history (enterprise_id, tier, boards, qualifications, source)
SELECT id, tier, boards, qualifications, 'migration' FROM enterprises ORDER BY id;
"""

DROP = """
DROP TRIGGER IF EXISTS enterprises_tier_history_insert ON enterprises;
DROP TRIGGER IF EXISTS enterprises_tier_history_update ON enterprises;
DROP TABLE IF EXISTS tier_history;
DROP FUNCTION IF EXISTS tier_history_inserted();
DROP FUNCTION IF EXISTS tier_history_updated();
DROP FUNCTION IF EXISTS tier_history_source();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
