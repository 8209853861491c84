"""Exposure counts without deadlocks: the ``exposure_daily`` trigger (0011) first takes one transaction-level
advisory lock.

0011's trigger upserts a statement's rows in key order, which keeps two *statements* from deadlocking, but a
transaction may log lists in several statements (an event writing a queued list and then one another process is
writing, ``executemany`` of items, a refused batch written list by list), and two such transactions locked
``exposure_daily`` rows in opposite orders: PostgreSQL aborted one (``DeadlockDetected``), and the event that
carried it answered 503 (seen under load in ``tests/test_load_durability.py``). Now every transaction that counts
exposure holds :data:`LOCK` from its first count to its commit, so the rows are only ever locked by one
transaction at a time. The cost: list writes on all machines commit one after another (each holds the lock for
its COPY and commit, about a millisecond); reading the counts takes no lock.
"""

from alembic import op

revision = "0012"
down_revision = "0011"

#: The advisory lock key ("capexpo" as a number): shared by every process that writes the impression log.
LOCK = 7_236_974_694_885_103

COUNTED = """
CREATE OR REPLACE FUNCTION exposure_daily_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({lock});
    INSERT INTO exposure_daily AS d (day, enterprise_id, shown)
    SELECT (l.created_at AT TIME ZONE 'UTC')::date, n.enterprise_id, count(*)
    FROM exposure_new n JOIN served_lists l ON l.id = n.list_id
    WHERE n.enterprise_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (day, enterprise_id) DO UPDATE SET shown = d.shown + EXCLUDED.shown;
    RETURN NULL;
END $$;
"""

UNLOCKED = COUNTED.replace("    PERFORM pg_advisory_xact_lock({lock});\n", "")  # 0011's trigger, as it was


def upgrade() -> None:
    op.execute(COUNTED.format(lock=LOCK))


def downgrade() -> None:
    op.execute(UNLOCKED)
