"""Rate-limit counters shared by every worker of the service.

The per-key limit (``api/ratelimit.py``) runs the ``limits`` library's fixed-window strategy over this
table, so ``capconnect serve --workers N`` (and several hosts over one database) allow the configured
rate once, not N times. One row per limited key and window length: ``hits`` counted since the window
began, ``expires_at`` when it ends. A hit is one atomic ``INSERT … ON CONFLICT … DO UPDATE …
RETURNING`` that restarts an expired window, so concurrent workers never lose a count and the rows
never grow past the number of keys.

``UNLOGGED``: the counters are worth a few seconds; writing them to the WAL would slow every request
for nothing, and a crash that empties them only forgives the current window.
"""

from alembic import op

revision = "0005"
down_revision = "0004"

SCHEMA = """
CREATE UNLOGGED TABLE rate_limit_counters (
    key text PRIMARY KEY,
    hits integer NOT NULL,
    expires_at timestamptz NOT NULL
);
"""

DROP = """
DROP TABLE IF EXISTS rate_limit_counters;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
