"""State every service machine shares: exposure counts per UTC day (``exposure_daily``) and the files of each
model version (``model_artifacts``).

**Exposure counts.**

The exposure cap (:mod:`matching.ranking.diversity`) demotes enterprises shown too often this period. Each
service process counts the lists it serves in memory (:class:`matching.serving.exposure.ShownCounts`); with
several processes, or several machines behind a load balancer, each one must also see what the others
served. The impression log holds the answer but counting it (a join of ``served_lists`` and
``served_list_items`` over 30 days) costs more with every list; this table keeps the sum:

* ``exposure_daily``: one row per (UTC day, enterprise) with how many served lists showed it that day.
* Written by a statement-level trigger on ``served_list_items`` (after INSERT), in the transaction that
  writes the items: every path that logs a list (the impression writer's COPY batch, an event writing a
  queued list at once, ``ON CONFLICT DO NOTHING`` repeats, which insert nothing and count nothing) counts it
  exactly once, whether or not it knew about this table. The rows are upserted in key order, so two
  processes' batches touching the same enterprises wait for each other instead of deadlocking.
* Read by :mod:`store.exposure` (the days of the period, summed), which each process polls every
  ``exposure_refresh_seconds`` (:mod:`api.exposure`).
* Backfill: the impression log's shows per day and enterprise at migration time.
* Rows are not tied to ``enterprises`` by a key (a list write should not lock the enterprise row); the rows of
  a deleted enterprise are never read (it is not in the market) and leave with their day
  (:func:`store.exposure.prune`).

**Model files.** A version's folder is written on the machine that trained it and registered with that path;
a service machine with a data folder of its own could not load it. ``model_artifacts`` keeps each version's
folder as one archive (:mod:`store.artifacts`, written by :func:`store.registry.register`), unpacked into
``models_dir`` by a machine that lacks it. Versions registered before this migration have no archive (their
folders stay where they are).
"""

from alembic import op

revision = "0011"
down_revision = "0010"

SCHEMA = """
CREATE TABLE exposure_daily (
    day date NOT NULL,
    enterprise_id bigint NOT NULL,
    shown bigint NOT NULL CHECK (shown >= 0),
    PRIMARY KEY (day, enterprise_id)
);

CREATE FUNCTION exposure_daily_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO exposure_daily AS d (day, enterprise_id, shown)
    SELECT (l.created_at AT TIME ZONE 'UTC')::date, n.enterprise_id, count(*)
    FROM exposure_new n JOIN served_lists l ON l.id = n.list_id
    WHERE n.enterprise_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, enterprise_id) DO UPDATE SET shown = d.shown + EXCLUDED.shown;
    RETURN NULL;
END $$;

CREATE TRIGGER served_list_items_exposure AFTER INSERT ON served_list_items
    REFERENCING NEW TABLE AS exposure_new FOR EACH STATEMENT EXECUTE FUNCTION exposure_daily_counted();

CREATE TABLE model_artifacts (
    version text PRIMARY KEY REFERENCES model_versions(version) ON DELETE CASCADE,
    archive bytea NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    stored_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO exposure_daily (day, enterprise_id, shown)
SELECT (l.created_at AT TIME ZONE 'UTC')::date, i.enterprise_id, count(*)
FROM served_list_items i JOIN served_lists l ON l.id = i.list_id
WHERE i.enterprise_id IS NOT NULL
GROUP BY 1, 2;
"""

DROP = """
DROP TRIGGER IF EXISTS served_list_items_exposure ON served_list_items;
DROP TABLE IF EXISTS exposure_daily;
DROP TABLE IF EXISTS model_artifacts;
DROP FUNCTION IF EXISTS exposure_daily_counted();
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
