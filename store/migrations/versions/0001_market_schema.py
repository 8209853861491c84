"""The market's schema: enterprises, investors and mandates, needs, secondaries, the funnel,
served lists, API keys and model versions.

The code lists below are frozen copies of ``matching.domain`` at the time of this migration
(``tests/test_schema.py`` checks they still agree); changing a vocabulary means a new migration.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None

TIERS = ("basic", "growth", "select")
BOARDS = ("sci_tech", "srdi", "rural", "fund_incubation", "liangjiang")
QUALIFICATIONS = ("srdi_municipal", "little_giant", "high_tech", "tech_sme", "above_scale", "pe_vc_backed",
                  "ipo_reserve")
LISTING_TARGETS = ("none", "star", "sse_main", "szse_main", "chinext", "bse", "neeq")
INSTRUMENTS = ("equity", "convertible", "ipo_loan", "warrant_loan", "ip_pledge", "equity_pledge", "old_shares")
ROUNDS = ("seed", "angel", "pre_a", "a", "b", "c", "d_plus", "pre_ipo", "strategic", "debt", "other")
INVESTOR_TYPES = ("vc", "pe", "s_fund", "state_fund", "securities_arm", "bank", "guarantee", "qfi", "corporate",
                  "lender")
STATE_FUND_LEVELS = ("municipal", "district")
INVESTOR_STATUSES = ("fundraising", "investing", "managing", "exiting", "inactive")
ENTERPRISE_STATUSES = ("active", "listed", "inactive")
REGION_SCOPES = ("chongqing", "chengyu", "western", "national", "overseas")
NEED_STATUSES = ("open", "in_progress", "closed", "withdrawn")
SECONDARY_KINDS = ("fund_interest", "old_shares")
SECONDARY_STATUSES = ("open", "under_offer", "sold", "withdrawn")
DISCLOSURE_LEVELS = ("tier_default", "public", "on_request")
EVENT_TYPES = ("viewed", "saved", "dismissed", "contact_requested", "contact_accepted", "meeting", "due_diligence",
               "term_sheet", "invested", "declined")
SIDES = ("investor", "enterprise")
ROLES = ("admin", "operator", "investor", "enterprise", "data_scientist")
CURRENCIES = ("CNY", "USD", "HKD", "EUR")
DISTRICTS = (
    ("500101", "万州区"), ("500102", "涪陵区"), ("500103", "渝中区"), ("500104", "大渡口区"), ("500105", "江北区"),
    ("500106", "沙坪坝区"), ("500107", "九龙坡区"), ("500108", "南岸区"), ("500109", "北碚区"), ("500110", "綦江区"),
    ("500111", "大足区"), ("500112", "渝北区"), ("500113", "巴南区"), ("500114", "黔江区"), ("500115", "长寿区"),
    ("500116", "江津区"), ("500117", "合川区"), ("500118", "永川区"), ("500119", "南川区"), ("500120", "璧山区"),
    ("500151", "铜梁区"), ("500152", "潼南区"), ("500153", "荣昌区"), ("500154", "开州区"), ("500155", "梁平区"),
    ("500156", "武隆区"), ("500229", "城口县"), ("500230", "丰都县"), ("500231", "垫江县"), ("500233", "忠县"),
    ("500235", "云阳县"), ("500236", "奉节县"), ("500237", "巫山县"), ("500238", "巫溪县"),
    ("500240", "石柱土家族自治县"), ("500241", "秀山土家族苗族自治县"), ("500242", "酉阳土家族苗族自治县"),
    ("500243", "彭水苗族土家族自治县"),
)
INDUSTRIES = (
    ("nev_auto", "智能网联新能源汽车", "mobility"), ("electronics", "新一代电子信息制造业", "electronics"),
    ("adv_materials", "先进材料", "materials"), ("smart_equipment", "智能装备及智能制造", "equipment"),
    ("food_agri", "食品及农产品加工", "consumer"), ("software", "软件信息服务", "digital"),
    ("new_display", "新型显示", "electronics"), ("motorcycle", "高端摩托车", "mobility"),
    ("light_alloy", "轻合金材料", "materials"), ("textiles", "轻纺", "consumer"),
    ("biomedicine", "生物医药", "health"), ("new_energy_storage", "新能源及新型储能", "energy"),
    ("ic_power_semi", "集成电路/功率半导体", "electronics"), ("ai", "人工智能", "digital"),
    ("sensors", "先进传感器", "electronics"), ("satellite_internet", "卫星互联网", "digital"),
    ("low_altitude", "低空经济", "mobility"), ("biomanufacturing", "生物制造", "health"),
    ("robotics", "智能机器人", "equipment"), ("green_env", "绿色低碳与环保", "energy"),
    ("modern_agri", "现代农业与乡村产业", "consumer"), ("fin_services", "科技金融与商务服务", "digital"),
    ("culture_tourism", "文化旅游与数字创意", "consumer"), ("logistics", "现代物流", "mobility"),
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _subset(column: str, values: tuple[str, ...]) -> str:
    return f"{column} <@ ARRAY[{', '.join(repr(v) for v in values)}]::text[]"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


SCHEMA = f"""
CREATE TABLE districts (
    code text PRIMARY KEY CHECK (code ~ '^500[0-9]{{3}}$'),
    name_zh text NOT NULL UNIQUE
);
INSERT INTO districts (code, name_zh) VALUES {", ".join(f"({_lit(c)}, {_lit(n)})" for c, n in DISTRICTS)};

CREATE TABLE industries (
    code text PRIMARY KEY,
    name_zh text NOT NULL UNIQUE,
    cluster text NOT NULL
);
INSERT INTO industries (code, name_zh, cluster) VALUES
    {", ".join(f"({_lit(c)}, {_lit(n)}, {_lit(k)})" for c, n, k in INDUSTRIES)};

CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;

CREATE TABLE enterprises (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code text UNIQUE CHECK (credit_code ~ '^[0-9A-HJ-NP-RTUW-Y]{{18}}$'),
    source text NOT NULL DEFAULT 'platform' CHECK (source ~ '^[a-z0-9_.-]{{1,40}}$'),
    external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    short_name text CHECK (length(short_name) <= 60),
    name_en text CHECK (length(name_en) <= 300),
    district_code text REFERENCES districts(code),
    province text CHECK (length(province) <= 60),
    country text NOT NULL DEFAULT 'CN' CHECK (length(country) BETWEEN 2 AND 60),
    city text CHECK (length(city) <= 100),
    industry_code text REFERENCES industries(code),
    industry_raw text CHECK (length(industry_raw) <= 200),
    tier text NOT NULL DEFAULT 'basic' CHECK ({_in("tier", TIERS)}),
    boards text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("boards", BOARDS)}),
    qualifications text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("qualifications", QUALIFICATIONS)}),
    listing_target text NOT NULL DEFAULT 'none' CHECK ({_in("listing_target", LISTING_TARGETS)}),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    founded_on date CHECK (founded_on BETWEEN DATE '1900-01-01' AND DATE '2100-01-01'),
    registered_capital numeric(20, 2) CHECK (registered_capital >= 0),
    disclosure text NOT NULL DEFAULT 'tier_default' CHECK ({_in("disclosure", DISCLOSURE_LEVELS)}),
    status text NOT NULL DEFAULT 'active' CHECK ({_in("status", ENTERPRISE_STATUSES)}),
    excluded_investors text[] NOT NULL DEFAULT '{{}}',
    excluded_investor_types text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("excluded_investor_types", INVESTOR_TYPES)}),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id),
    CHECK (credit_code IS NOT NULL OR external_id IS NOT NULL)
);
CREATE INDEX enterprises_district_idx ON enterprises (district_code);
CREATE INDEX enterprises_industry_idx ON enterprises (industry_code);
CREATE TRIGGER enterprises_touch BEFORE UPDATE ON enterprises FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE enterprise_financials (
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    year int NOT NULL CHECK (year BETWEEN 1900 AND 2100),
    revenue numeric(20, 2) CHECK (revenue >= 0),
    net_profit numeric(20, 2),
    revenue_growth double precision CHECK (revenue_growth BETWEEN -1 AND 1000),
    rd_ratio double precision CHECK (rd_ratio BETWEEN 0 AND 10),
    employees int CHECK (employees >= 0),
    patents int CHECK (patents >= 0),
    PRIMARY KEY (enterprise_id, year)
);

CREATE TABLE investors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL DEFAULT 'platform' CHECK (source ~ '^[a-z0-9_.-]{{1,40}}$'),
    external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 200),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 300),
    name_en text CHECK (length(name_en) <= 300),
    investor_type text NOT NULL CHECK ({_in("investor_type", INVESTOR_TYPES)}),
    state_fund_level text CHECK ({_in("state_fund_level", STATE_FUND_LEVELS)}),
    amac_code text UNIQUE CHECK (amac_code ~ '^(P[0-9]{{7}}|S[A-Z0-9]{{5}})$'),
    aum numeric(20, 2) CHECK (aum >= 0),
    status text NOT NULL DEFAULT 'investing' CHECK ({_in("status", INVESTOR_STATUSES)}),
    district_code text REFERENCES districts(code),
    province text CHECK (length(province) <= 60),
    country text NOT NULL DEFAULT 'CN' CHECK (length(country) BETWEEN 2 AND 60),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id),
    CHECK ((investor_type = 'state_fund') = (state_fund_level IS NOT NULL))
);
CREATE TRIGGER investors_touch BEFORE UPDATE ON investors FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE mandates (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    version int NOT NULL CHECK (version >= 1),
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    sectors text[] NOT NULL DEFAULT '{{}}',
    sectors_raw text[] NOT NULL DEFAULT '{{}}',
    stages text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("stages", ROUNDS)}),
    ticket_min numeric(20, 2) CHECK (ticket_min >= 0),
    ticket_max numeric(20, 2) CHECK (ticket_max >= 0),
    currency text NOT NULL DEFAULT 'CNY' CHECK ({_in("currency", CURRENCIES)}),
    regions text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("regions", REGION_SCOPES)}),
    districts text[] NOT NULL DEFAULT '{{}}',
    tiers text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("tiers", TIERS)}),
    boards text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("boards", BOARDS)}),
    instruments text[] NOT NULL DEFAULT '{{}}' CHECK ({_subset("instruments", INSTRUMENTS)}),
    excluded_sectors text[] NOT NULL DEFAULT '{{}}',
    excluded_enterprises text[] NOT NULL DEFAULT '{{}}',
    local_reinvest_ratio double precision CHECK (local_reinvest_ratio BETWEEN 0 AND 10),
    thesis text NOT NULL DEFAULT '' CHECK (length(thesis) <= 20000),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (investor_id, version),
    CHECK (ticket_min IS NULL OR ticket_max IS NULL OR ticket_min <= ticket_max),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK ({_subset("sectors", tuple(c for c, _, _ in INDUSTRIES))}),
    CHECK ({_subset("excluded_sectors", tuple(c for c, _, _ in INDUSTRIES))}),
    CHECK ({_subset("districts", tuple(c for c, _ in DISTRICTS))}),
    -- one current version per investor; deferred so a batch can add versions and re-chain them
    CONSTRAINT mandates_one_current EXCLUDE USING btree (investor_id WITH =) WHERE (valid_to IS NULL)
        DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE financing_needs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref text NOT NULL UNIQUE CHECK (length(ref) BETWEEN 1 AND 100),
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    instrument text NOT NULL CHECK ({_in("instrument", INSTRUMENTS)}),
    amount numeric(20, 2) NOT NULL CHECK (amount >= 0),
    currency text NOT NULL DEFAULT 'CNY' CHECK ({_in("currency", CURRENCIES)}),
    round text CHECK ({_in("round", ROUNDS)}),
    status text NOT NULL DEFAULT 'open' CHECK ({_in("status", NEED_STATUSES)}),
    opened_on date,
    closes_on date,
    use_of_funds text NOT NULL DEFAULT '' CHECK (length(use_of_funds) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (closes_on IS NULL OR opened_on IS NULL OR closes_on >= opened_on)
);
CREATE INDEX financing_needs_enterprise_idx ON financing_needs (enterprise_id);
CREATE TRIGGER financing_needs_touch BEFORE UPDATE ON financing_needs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE secondary_listings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ref text NOT NULL UNIQUE CHECK (length(ref) BETWEEN 1 AND 100),
    kind text NOT NULL CHECK ({_in("kind", SECONDARY_KINDS)}),
    seller_name text NOT NULL CHECK (length(btrim(seller_name)) BETWEEN 1 AND 300),
    seller_investor_id bigint REFERENCES investors(id),
    enterprise_id bigint REFERENCES enterprises(id),
    fund_name text CHECK (length(fund_name) <= 300),
    asking_price numeric(20, 2) NOT NULL CHECK (asking_price >= 0),
    nav numeric(20, 2) CHECK (nav > 0),
    discount double precision GENERATED ALWAYS AS
        (CASE WHEN nav IS NULL THEN NULL ELSE 1 - asking_price::double precision / nav::double precision END) STORED,
    currency text NOT NULL DEFAULT 'CNY' CHECK ({_in("currency", CURRENCIES)}),
    vintage int CHECK (vintage BETWEEN 1990 AND 2100),
    status text NOT NULL DEFAULT 'open' CHECK ({_in("status", SECONDARY_STATUSES)}),
    listed_on date,
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'old_shares' OR enterprise_id IS NOT NULL),
    CHECK (kind <> 'fund_interest' OR fund_name IS NOT NULL)
);
CREATE TRIGGER secondary_listings_touch BEFORE UPDATE ON secondary_listings
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE model_versions (
    version text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9_.-]{{1,64}}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    path text NOT NULL,
    manifest jsonb NOT NULL,
    metrics jsonb NOT NULL DEFAULT '{{}}',
    status text NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'active', 'retired', 'rejected')),
    activated_at timestamptz
);
CREATE UNIQUE INDEX model_versions_one_active ON model_versions ((true)) WHERE status = 'active';

CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{{64}}$'),
    prefix text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    role text NOT NULL CHECK ({_in("role", ROLES)}),
    investor_id bigint REFERENCES investors(id) ON DELETE CASCADE,
    enterprise_id bigint REFERENCES enterprises(id) ON DELETE CASCADE,
    label text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'investor') = (investor_id IS NOT NULL)),
    CHECK ((role = 'enterprise') = (enterprise_id IS NOT NULL))
);

CREATE TABLE served_lists (
    id uuid PRIMARY KEY,
    side text NOT NULL CHECK (side IN ('investor', 'enterprise', 'secondary', 'search')),
    investor_id bigint REFERENCES investors(id) ON DELETE CASCADE,
    enterprise_id bigint REFERENCES enterprises(id) ON DELETE CASCADE,
    api_key_id bigint REFERENCES api_keys(id) ON DELETE SET NULL,
    model_version text REFERENCES model_versions(version),
    query jsonb NOT NULL DEFAULT '{{}}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX served_lists_investor_idx ON served_lists (investor_id, created_at);
CREATE INDEX served_lists_enterprise_idx ON served_lists (enterprise_id, created_at);

CREATE TABLE served_list_items (
    list_id uuid NOT NULL REFERENCES served_lists(id) ON DELETE CASCADE,
    position int NOT NULL CHECK (position >= 1),
    enterprise_id bigint REFERENCES enterprises(id) ON DELETE CASCADE,
    investor_id bigint REFERENCES investors(id) ON DELETE CASCADE,
    need_id bigint REFERENCES financing_needs(id) ON DELETE SET NULL,
    secondary_id bigint REFERENCES secondary_listings(id) ON DELETE CASCADE,
    score double precision NOT NULL,
    sources text[] NOT NULL DEFAULT '{{}}',
    features jsonb NOT NULL DEFAULT '{{}}',
    PRIMARY KEY (list_id, position)
);

CREATE TABLE funnel_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key text NOT NULL UNIQUE CHECK (length(event_key) BETWEEN 1 AND 200),
    investor_id bigint NOT NULL REFERENCES investors(id) ON DELETE CASCADE,
    enterprise_id bigint NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
    event_type text NOT NULL CHECK ({_in("event_type", EVENT_TYPES)}),
    actor text NOT NULL DEFAULT 'investor' CHECK ({_in("actor", SIDES)}),
    occurred_at timestamptz NOT NULL CHECK (occurred_at < TIMESTAMPTZ '2100-01-01'),
    need_id bigint REFERENCES financing_needs(id) ON DELETE SET NULL,
    secondary_id bigint REFERENCES secondary_listings(id) ON DELETE SET NULL,
    source text NOT NULL DEFAULT 'platform' CHECK (source ~ '^[a-z0-9_.-]{{1,40}}$'),
    list_id uuid REFERENCES served_lists(id) ON DELETE SET NULL,
    api_key_id bigint REFERENCES api_keys(id) ON DELETE SET NULL,
    amount numeric(20, 2) CHECK (amount >= 0),
    currency text CHECK ({_in("currency", CURRENCIES)}),
    round text CHECK ({_in("round", ROUNDS)}),
    lead boolean,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX funnel_events_investor_idx ON funnel_events (investor_id, occurred_at);
CREATE INDEX funnel_events_enterprise_idx ON funnel_events (enterprise_id, occurred_at);
CREATE INDEX funnel_events_time_idx ON funnel_events (occurred_at);
"""

DROP = """
DROP TABLE IF EXISTS funnel_events, served_list_items, served_lists, api_keys, model_versions,
    secondary_listings, financing_needs, mandates, investors, enterprise_financials, enterprises,
    industries, districts CASCADE;
DROP FUNCTION IF EXISTS touch_updated_at();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
