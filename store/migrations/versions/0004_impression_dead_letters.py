"""Dead letters of the impression log: served lists the database refused, kept with the error.

The service writes served lists behind the response in batches (``api/impressions.py``). A list the
database refuses (a character PostgreSQL cannot store, a party deleted meanwhile) must neither block
the other lists nor be lost silently: it is moved here, serialised as JSON text (``ensure_ascii``, so
even a NUL is stored as the six characters ``\\u0000``), with the database's error, and counted in the
``capconnect_impression_dead_letters`` metric. Nothing reads this table automatically: it is for
operators to inspect (and, once the cause is fixed, to replay by hand).
"""

from alembic import op

revision = "0004"
down_revision = "0003"

SCHEMA = """
CREATE TABLE impression_dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id uuid NOT NULL,
    payload text NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX impression_dead_letters_time_idx ON impression_dead_letters (failed_at);
"""

DROP = """
DROP TABLE IF EXISTS impression_dead_letters;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DROP)
