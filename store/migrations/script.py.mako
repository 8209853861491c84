"""${message}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}  # the revision this one builds on (alembic reads both variables)


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
