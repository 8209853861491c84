"""Standing mandates and alerts: alert settings, saved searches, the alert outbox, webhooks and their delivery log.

* ``alert_settings``: one row per investor that changed the defaults: whether its mandate is a standing
  query (``mandate_alerts``), its top N and score threshold, and how it is notified (``delivery``:
  ``immediate`` webhook posts, or a ``daily`` / ``weekly`` digest). An investor without a row has the
  defaults (mandate alerts on, top 10, no threshold, immediate).
* ``saved_searches``: an investor's other standing queries: filters (the list filters' JSON) and free text,
  each with its own top N and threshold.
* ``alert_changes``: the market changes alerts are computed for, written by triggers on ``financing_needs``
  and ``enterprises`` in the writing transaction (every path: API, console, import, psql), as
  ``tier_history`` is (0009): a new or changed need, a new enterprise, a changed profile, a move up a tier.
  Each statement notifies ``capconnect_alerts``. The alert engine reads them after ``alert_cursor``.
* ``alerts``: the outbox. One row per (investor, enterprise, need): never twice for the same pair and need,
  whichever standing query (``query``: ``mandate`` or ``search:<id>``) found it first. ``body`` is what the
  investor is shown (disclosure applied when it was written); ``read_at``, ``delivered_at``, and the
  delivery schedule (``attempts``, ``next_attempt_at``, ``failed_at``).
* ``alert_digests``: the daily / weekly digests (the alerts they carry, their own delivery schedule).
* ``webhooks``: one per investor (url, the signing secret, active). ``webhook_deliveries``: every attempt.
"""

from alembic import op

revision = "0010"
down_revision = "0009"

SCHEMA = """
CREATE TABLE alert_settings (
    investor_id bigint PRIMARY KEY REFERENCES investors(id) ON DELETE CASCADE,
    mandate_alerts boolean NOT NULL DEFAULT true,
    top_n integer NOT NULL DEFAULT 10 CHECK (top_n BETWEEN 1 AND 100),
    min_score double precision CHECK (min_score IS NULL OR min_score BETWEEN -1000 AND 1000),
    delivery text NOT NULL DEFAULT 'immediate' CHECK (delivery IN ('immediate', 'daily', 'weekly')),
    digest_sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE saved_searches (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    text text CHECK (text IS NULL OR length(text) BETWEEN 1 AND 200),
    filters jsonb NOT NULL DEFAULT '{}',
    top_n integer NOT NULL DEFAULT 10 CHECK (top_n BETWEEN 1 AND 100),
    min_score double precision CHECK (min_score IS NULL OR min_score BETWEEN -1000 AND 1000),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_searches_investor_idx ON saved_searches (investor_id, id);

CREATE TABLE alert_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('need', 'enterprise')),
    entity_id bigint NOT NULL,
    reason text NOT NULL CHECK (reason IN ('need_created', 'need_changed', 'enterprise_created', 'profile_changed',
                                           'tier_up')),
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_cursor (
    id integer PRIMARY KEY CHECK (id = 1),
    last_change_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_digests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    period text NOT NULL CHECK (period IN ('daily', 'weekly')),
    alert_ids bigint[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    failed_at timestamptz
);
CREATE INDEX alert_digests_due_idx ON alert_digests (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE TABLE alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    need_id bigint REFERENCES financing_needs(id) ON DELETE CASCADE,
    query text NOT NULL CHECK (query ~ '^(mandate|search:[0-9]+)$'),
    score double precision NOT NULL,
    reasons jsonb NOT NULL DEFAULT '[]',
    body jsonb NOT NULL,
    model_version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    delivered_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    failed_at timestamptz,
    digest_id bigint REFERENCES alert_digests(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX alerts_once_idx ON alerts (investor_id, enterprise_id, coalesce(need_id, 0));
CREATE INDEX alerts_investor_idx ON alerts (investor_id, id DESC);
CREATE INDEX alerts_due_idx ON alerts (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE TABLE webhooks (
    investor_id bigint PRIMARY KEY REFERENCES investors(id) ON DELETE CASCADE,
    url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2000),
    secret text NOT NULL CHECK (length(secret) >= 32),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    alert_id bigint REFERENCES alerts(id) ON DELETE CASCADE,
    digest_id bigint REFERENCES alert_digests(id) ON DELETE CASCADE,
    notification_id text NOT NULL,
    attempt integer NOT NULL,
    url text NOT NULL,
    status_code integer,
    error text,
    delivered boolean NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    CHECK ((alert_id IS NULL) <> (digest_id IS NULL))
);
CREATE INDEX webhook_deliveries_investor_idx ON webhook_deliveries (investor_id, id DESC);

CREATE FUNCTION alert_changes_needs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_changes (kind, entity_id, reason)
    SELECT 'need', n.id, 'need_created' FROM alert_new n ORDER BY n.id;
    PERFORM pg_notify('capconnect_alerts', 'needs');
    RETURN NULL;
END $$;

CREATE FUNCTION alert_changes_needs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_changes (kind, entity_id, reason)
    SELECT 'need', n.id, 'need_changed' FROM alert_new n JOIN alert_old o ON o.id = n.id
    WHERE (n.instrument, n.amount, n.currency, n.round, n.status, n.opened_on, n.closes_on, n.enterprise_id)
          IS DISTINCT FROM
          (o.instrument, o.amount, o.currency, o.round, o.status, o.opened_on, o.closes_on, o.enterprise_id)
    ORDER BY n.id;
    PERFORM pg_notify('capconnect_alerts', 'needs');
    RETURN NULL;
END $$;

CREATE FUNCTION alert_tier_rank(t text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t WHEN 'basic' THEN 0 WHEN 'growth' THEN 1 WHEN 'select' THEN 2 ELSE -1 END $$;

CREATE FUNCTION alert_changes_enterprises_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_changes (kind, entity_id, reason)
    SELECT 'enterprise', n.id, 'enterprise_created' FROM alert_new n ORDER BY n.id;
    PERFORM pg_notify('capconnect_alerts', 'enterprises');
    RETURN NULL;
END $$;

CREATE FUNCTION alert_changes_enterprises_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_changes (kind, entity_id, reason)
    SELECT 'enterprise', n.id,
           CASE WHEN alert_tier_rank(n.tier) > alert_tier_rank(o.tier) THEN 'tier_up' ELSE 'profile_changed' END
    FROM alert_new n JOIN alert_old o ON o.id = n.id
    WHERE alert_tier_rank(n.tier) > alert_tier_rank(o.tier)
       OR (n.name, n.description, n.industry_code, n.district_code, n.province, n.country, n.status, n.disclosure,
           n.boards, n.qualifications, n.excluded_investors, n.excluded_investor_types)
          IS DISTINCT FROM
          (o.name, o.description, o.industry_code, o.district_code, o.province, o.country, o.status, o.disclosure,
           o.boards, o.qualifications, o.excluded_investors, o.excluded_investor_types)
    ORDER BY n.id;
    PERFORM pg_notify('capconnect_alerts', 'enterprises');
    RETURN NULL;
END $$;

CREATE TRIGGER financing_needs_alerts_insert AFTER INSERT ON financing_needs
    REFERENCING NEW TABLE AS alert_new FOR EACH STATEMENT EXECUTE FUNCTION alert_changes_needs_inserted();
CREATE TRIGGER financing_needs_alerts_update AFTER UPDATE ON financing_needs
    REFERENCING OLD TABLE AS alert_old NEW TABLE AS alert_new FOR EACH STATEMENT
    EXECUTE FUNCTION alert_changes_needs_updated();
CREATE TRIGGER enterprises_alerts_insert AFTER INSERT ON enterprises
    REFERENCING NEW TABLE AS alert_new FOR EACH STATEMENT EXECUTE FUNCTION alert_changes_enterprises_inserted();
CREATE TRIGGER enterprises_alerts_update AFTER UPDATE ON enterprises
    REFERENCING OLD TABLE AS alert_old NEW TABLE AS alert_new FOR EACH STATEMENT
    EXECUTE FUNCTION alert_changes_enterprises_updated();
"""

DROP = """
DROP TRIGGER IF EXISTS financing_needs_alerts_insert ON financing_needs;
DROP TRIGGER IF EXISTS financing_needs_alerts_update ON financing_needs;
DROP TRIGGER IF EXISTS enterprises_alerts_insert ON enterprises;
DROP TRIGGER IF EXISTS enterprises_alerts_update ON enterprises;
DROP TABLE IF EXISTS webhook_deliveries, webhooks, alerts, alert_digests, alert_cursor, alert_changes, saved_searches,
    alert_settings;
DROP FUNCTION IF EXISTS alert_changes_needs_inserted();
DROP FUNCTION IF EXISTS alert_changes_needs_updated();
DROP FUNCTION IF EXISTS alert_changes_enterprises_inserted();
DROP FUNCTION IF EXISTS alert_changes_enterprises_updated();
DROP FUNCTION IF EXISTS alert_tier_rank(text);
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
