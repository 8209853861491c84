"""Support programmes (扶持政策) and the record of which enterprise was told of which programme.

* ``programmes``: one row per programme, keyed by ``ref`` (re-importing a file changes nothing). The
  eligibility rules are columns (lists as ``text[]``: empty = any; bands as nullable bounds); amounts
  in yuan; ``is_sample`` marks demonstration data (shown as 示例, not real policy).
* ``programme_notices``: the "told" record. One row per programme and enterprise, written when the
  enterprise first qualifies (on import, or when its profile changes); the primary key makes a second
  notice impossible. ``read_at`` is set when the enterprise opens its programmes.
"""

from alembic import op

revision = "0008"
down_revision = "0007"

#: Copied from ``matching.domain.vocab.PROGRAMME_KINDS`` (tests/test_programmes.py keeps them in step).
PROGRAMME_KINDS = ("subsidy", "interest_subsidy", "risk_compensation", "guarantee", "listing_reward", "other")


def _in(codes: tuple[str, ...]) -> str:
    return ", ".join(f"'{c}'" for c in codes)


SCHEMA = f"""
CREATE TABLE programmes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref text NOT NULL UNIQUE CHECK (length(ref) BETWEEN 1 AND 80),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ({_in(PROGRAMME_KINDS)})),
    districts text[] NOT NULL DEFAULT '{{}}',
    tiers text[] NOT NULL DEFAULT '{{}}',
    boards text[] NOT NULL DEFAULT '{{}}',
    qualifications text[] NOT NULL DEFAULT '{{}}',
    industries text[] NOT NULL DEFAULT '{{}}',
    min_employees integer CHECK (min_employees >= 0),
    max_employees integer CHECK (max_employees >= 0),
    min_revenue numeric(20, 2) CHECK (min_revenue >= 0),
    max_revenue numeric(20, 2) CHECK (max_revenue >= 0),
    min_age_years double precision CHECK (min_age_years >= 0),
    max_age_years double precision CHECK (max_age_years >= 0),
    max_amount numeric(20, 2) CHECK (max_amount >= 0),
    opens_on date,
    closes_on date,
    link text CHECK (link ~ '^https?://'),
    description text NOT NULL DEFAULT '',
    is_sample boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (min_employees IS NULL OR max_employees IS NULL OR min_employees <= max_employees),
    CHECK (min_revenue IS NULL OR max_revenue IS NULL OR min_revenue <= max_revenue),
    CHECK (min_age_years IS NULL OR max_age_years IS NULL OR min_age_years <= max_age_years),
    CHECK (opens_on IS NULL OR closes_on IS NULL OR opens_on <= closes_on)
);
CREATE INDEX programmes_kind_idx ON programmes (kind);
CREATE TRIGGER programmes_touch BEFORE UPDATE ON programmes FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE programme_notices (
    programme_id bigint NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    PRIMARY KEY (programme_id, enterprise_id)
);
CREATE INDEX programme_notices_unread_idx ON programme_notices (enterprise_id) WHERE read_at IS NULL;
"""

DROP = """
DROP TABLE IF EXISTS programme_notices;
DROP TABLE IF EXISTS programmes;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
