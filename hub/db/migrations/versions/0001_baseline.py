"""Baseline: the hub's records, kiosks, dead letters, conflicts, audit log and evidence chain.

Creates what is missing (tables, then indexes) and drops the indexes of older hubs that these replace,
so it both creates a new database and adopts one written before migrations existed (hub.db.migrate
first brings such a database's columns up to this layout).

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from hub.db.baseline import SUPERSEDED_INDEXES, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, checkfirst=True)  # tables (and their indexes) that are missing
    present = {table: {ix["name"] for ix in sa.inspect(bind).get_indexes(table)} for table in metadata.tables}
    for table in metadata.sorted_tables:
        for index in table.indexes:
            if index.name not in present[table.name]:
                index.create(bind)
    for name in SUPERSEDED_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")


def downgrade() -> None:
    raise RuntimeError("the baseline is not downgraded: restore a backup instead")
