"""Console sessions, sign-in throttling, retraining jobs, forced promotions audited, and an audit log the
service cannot rewrite.

* ``web_sessions``: a console session is a row, not the API key in a cookie. The cookie holds a random
  token; the row holds its SHA-256 (``id``), the key it acts for, the CSRF token bound to it, when it
  was created and last seen, its absolute expiry, and when (and why) it was revoked: on sign-out, or
  when its key is revoked.
* ``auth_failures``: failed sign-ins and invalid API keys per client address (``UNLOGGED``: worth a
  quarter of an hour; a crash only forgives them), so every worker throttles the same address.
* ``model_jobs``: retraining jobs live here, not in a process's memory; at most one is queued or
  running (a unique partial index; the runner also holds an advisory lock while it trains).
* ``audit_log``: a forced promotion (past the quality gate) is a row (``action = 'model_forced'``, no
  enterprise, the reason). The table and its trigger function are handed to a role of their own,
  ``capconnect_audit`` (``NOLOGIN``), created here when the migrating role may create roles; the
  service's role keeps ``INSERT`` and ``SELECT`` only, so it can neither disable the trigger nor drop
  the table. Where roles cannot be created (no ``CREATEROLE``, e.g. a managed PostgreSQL's app user)
  the migration says so in a warning, with the statements an administrator runs, and carries on.
  A superuser or a ``CREATEROLE`` role can always take the table back: the warning says so too.
"""

import logging

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision = "0006"
down_revision = "0005"

logger = logging.getLogger("store.migrations")
AUDIT_ROLE = "capconnect_audit"

SCHEMA = """
CREATE TABLE web_sessions (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    api_key_id bigint NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    csrf text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text CHECK (revoked_reason IN ('signed_out', 'key_revoked')),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX web_sessions_key_idx ON web_sessions (api_key_id) WHERE revoked_at IS NULL;
CREATE INDEX web_sessions_expiry_idx ON web_sessions (expires_at);

CREATE UNLOGGED TABLE auth_failures (
    address text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_address_idx ON auth_failures (address, failed_at);

CREATE TABLE model_jobs (
    id text PRIMARY KEY,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    params jsonb NOT NULL DEFAULT '{}',
    requested_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    version text,
    promoted boolean NOT NULL DEFAULT false,
    metrics jsonb NOT NULL DEFAULT '{}',
    error text,
    log text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX model_jobs_one_at_a_time ON model_jobs ((true)) WHERE status IN ('queued', 'running');

ALTER TABLE audit_log ALTER COLUMN enterprise_id DROP NOT NULL;
ALTER TABLE audit_log ADD COLUMN reason text CHECK (length(reason) <= 2000);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('viewed', 'claim_verified', 'claim_rejected', 'model_forced'));
ALTER TABLE audit_log ADD CONSTRAINT audit_log_subject_check
    CHECK ((action = 'model_forced') = (enterprise_id IS NULL));
ALTER TABLE audit_log ADD CONSTRAINT audit_log_forced_reason_check
    CHECK (action <> 'model_forced' OR reason IS NOT NULL);
"""

DROP = """
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_forced_reason_check;
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_subject_check;
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('viewed', 'claim_verified', 'claim_rejected')) NOT VALID;  -- forced promotions stay
ALTER TABLE audit_log DROP COLUMN IF EXISTS reason;
DROP TABLE IF EXISTS model_jobs;
DROP TABLE IF EXISTS auth_failures;
DROP TABLE IF EXISTS web_sessions;
"""

#: What an administrator runs where the migration could not (README: "The audit log on a managed PostgreSQL").
MANUAL = f"""CREATE ROLE {AUDIT_ROLE} NOLOGIN;
GRANT {AUDIT_ROLE} TO <admin>;  -- only where <admin> is not a superuser
GRANT CREATE ON SCHEMA public TO {AUDIT_ROLE};
ALTER TABLE audit_log OWNER TO {AUDIT_ROLE};
ALTER FUNCTION audit_log_append_only() OWNER TO {AUDIT_ROLE};
REVOKE CREATE ON SCHEMA public FROM {AUDIT_ROLE};
REVOKE ALL ON audit_log FROM PUBLIC, <service role>;
GRANT SELECT, INSERT ON audit_log TO <service role>;"""


def upgrade() -> None:
    op.execute(SCHEMA)
    hand_audit_log_over()


def hand_audit_log_over() -> None:
    """Give ``audit_log`` to :data:`AUDIT_ROLE`, the migrating (service) role keeping INSERT and SELECT."""
    bind = op.get_bind()
    me, superuser, createrole = bind.execute(text(
        "SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")).one()
    exists = bind.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": AUDIT_ROLE}).first() is not None
    if not exists and not (superuser or createrole):
        _warn_schema_owner(bind, me)
        logger.warning(
            "audit_log stays owned by the service's role %s, which could disable its append-only trigger or drop "
            "it: this role may not create roles (no CREATEROLE). Have an administrator run, once:\n%s\n(README: "
            "'The audit log on a managed PostgreSQL').", me, MANUAL.replace("<service role>", me))
        return
    try:
        with bind.begin_nested():
            if not exists:
                bind.execute(text(f"CREATE ROLE {AUDIT_ROLE} NOLOGIN"))
            member = bind.execute(text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": AUDIT_ROLE}).scalar()
            granted = not superuser and not member
            if granted:  # ALTER … OWNER TO needs membership in the new owner; given back below
                bind.execute(text(f'GRANT {AUDIT_ROLE} TO "{me}"'))
            schema = bind.execute(text("SELECT current_schema()")).scalar()
            lend = not bind.execute(text("SELECT has_schema_privilege(:r, :s, 'CREATE')"),
                                    {"r": AUDIT_ROLE, "s": schema}).scalar()
            if lend:  # a new owner needs CREATE on the schema, at that moment only
                bind.execute(text(f'GRANT CREATE ON SCHEMA "{schema}" TO {AUDIT_ROLE}'))
            bind.execute(text(f"ALTER TABLE audit_log OWNER TO {AUDIT_ROLE}"))
            bind.execute(text(f"ALTER FUNCTION audit_log_append_only() OWNER TO {AUDIT_ROLE}"))
            if lend:
                bind.execute(text(f'REVOKE CREATE ON SCHEMA "{schema}" FROM {AUDIT_ROLE}'))
            bind.execute(text(f'REVOKE ALL ON audit_log FROM PUBLIC, "{me}"'))
            bind.execute(text(f'GRANT SELECT, INSERT ON audit_log TO "{me}"'))
            if granted:
                bind.execute(text(f'REVOKE {AUDIT_ROLE} FROM "{me}"'))
    except DBAPIError as exc:
        logger.warning("audit_log could not be handed to %s (%s); it stays owned by the service's role %s. Have an "
                       "administrator run, once:\n%s", AUDIT_ROLE, exc.orig, me, MANUAL.replace("<service role>", me))
        _warn_schema_owner(bind, me)
        return
    _warn_schema_owner(bind, me)
    if superuser or createrole:
        logger.warning(
            "audit_log now belongs to %s (the service's role %s may only INSERT and SELECT), but %s is %s and could "
            "take it back: run the service as an ordinary role (README: 'The audit log on a managed PostgreSQL').",
            AUDIT_ROLE, me, me, "a superuser" if superuser else "allowed to create roles (CREATEROLE)")


def _warn_schema_owner(bind: object, me: str) -> None:
    """Say so when the service's role owns audit_log's schema (it owns the database): it may drop any table there."""
    schema, owns = bind.execute(text(  # type: ignore[attr-defined]
        "SELECT n.nspname, pg_has_role(current_user, n.nspowner, 'USAGE') FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'audit_log'::regclass")).one()
    if owns:
        logger.warning("the service's role %s owns the schema %s (it owns the database), so it may still drop "
                       "audit_log: have an administrator own the database and the schema, and grant %s CREATE and "
                       "USAGE on it (README: 'The audit log on a managed PostgreSQL').", me, schema, me)


def downgrade() -> None:
    bind = op.get_bind()
    owner = bind.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'")).scalar()
    if owner == AUDIT_ROLE:  # needs a role that may act as capconnect_audit (a superuser)
        op.execute('ALTER TABLE audit_log OWNER TO CURRENT_USER')
        op.execute('ALTER FUNCTION audit_log_append_only() OWNER TO CURRENT_USER')
    op.execute(DROP)
