"""Compact exams at rest (issue 11): the body kept once as compressed bytes, typed measurement columns.

``exams`` is rebuilt: ``body`` (the JSON text) becomes ``body_z`` (the same text through
:func:`hub.db.exam_body.encode_body`, ~7x smaller), and six REAL columns hold the last valid value of
each analysed measurement (:func:`hub.db.exam_body.last_values`), so the analytics read typed columns
on either back end instead of parsing JSON in SQL. Every other column keeps its name, type and value.

Existing rows are copied into the new table in batches of BATCH (SQLite in rowid order, i.e. as they
were received; PostgreSQL by event id), the old table is dropped and the new one takes its name, its
indexes (0001's) and any index a hub module added to ``exams`` (e.g. the medic queue) are created
again. A rebuild rather than ``UPDATE`` + ``DROP COLUMN``: on SQLite the new table's pages are dense,
on PostgreSQL no dead row versions are left behind. The freed SQLite pages are reused by new records
(``VACUUM`` gives them back to the file system; it cannot run inside the migration's transaction).

Revision ID: 0002
Revises: 0001
"""

import logging

import orjson
import sqlalchemy as sa
from alembic import op

from hub.db.baseline import BigInt
from hub.db.baseline import metadata as baseline_metadata
from hub.db.exam_body import MEASUREMENT_COLUMNS, encode_body, last_values

log = logging.getLogger("hub.db")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: rows copied per statement while converting
BATCH = 5000

#: the columns 0001 and 0002 share, in 0001's order (frozen here, like the whole revision)
KEPT = ("event_id", "site", "kiosk", "seq", "exam_id", "worker_id", "exam_type", "started_at", "finished_at",
        "outcome", "rule_set_version", "historical", "kiosk_ts", "received_at", "chain_status", "incarnation")



def _exams_0002(name: str) -> sa.Table:
    """``exams`` at revision 0002 (the body last: a row read for its other columns stops before it)."""
    def text(column: str, **kw) -> sa.Column:
        return sa.Column(column, sa.Text, nullable=False, **kw)

    return sa.Table(
        name, sa.MetaData(),
        text("event_id", primary_key=True), text("site"), text("kiosk"), sa.Column("seq", BigInt, nullable=False),
        text("exam_id"), text("worker_id"), text("exam_type"), text("started_at"), text("finished_at"),
        text("outcome"), text("rule_set_version"), sa.Column("historical", sa.Integer, nullable=False),
        text("kiosk_ts"), text("received_at"),
        text("chain_status", server_default=sa.text("'unsigned'")), text("incarnation", server_default=sa.text("''")),
        *(sa.Column(field, sa.Float, nullable=True) for field in MEASUREMENT_COLUMNS),
        sa.Column("body_z", sa.LargeBinary, nullable=False))


def _other_indexes(bind) -> list[str]:
    """``CREATE INDEX`` statements of indexes on ``exams`` that 0001 did not make (modules' own)."""
    ours = {index.name for index in baseline_metadata.tables["exams"].indexes}
    if bind.dialect.name == "sqlite":
        rows = bind.exec_driver_sql("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'exams' "
                                    "AND sql IS NOT NULL").fetchall()
    else:
        rows = bind.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                    "AND tablename = 'exams'").fetchall()
    return [sql for name, sql in rows if name not in ours and not name.endswith("_pkey")]


def convert(bind, old: sa.Table, new: sa.Table, batch: int = BATCH) -> int:
    """Copy every row of ``old`` (0001) into ``new`` (0002); returns the rows copied."""
    sqlite = bind.dialect.name == "sqlite"
    key = sa.literal_column("rowid") if sqlite else old.c.event_id
    columns = [old.c[name] for name in KEPT] + [old.c.body]
    last, copied = None, 0
    while True:
        query = sa.select(key.label("k"), *columns).order_by(key).limit(batch)
        if last is not None:
            query = query.where(key > last)
        rows = bind.execute(query).mappings().all()
        if not rows:
            return copied
        out = []
        for row in rows:
            body = row["body"]
            try:
                values = last_values(orjson.loads(body))
            except orjson.JSONDecodeError as error:  # kept as it is; no measurement columns to derive
                log.warning("exam %s: its stored body is not JSON (%s); kept as stored, without measurement "
                            "columns", row["event_id"], error)
                values = dict.fromkeys(MEASUREMENT_COLUMNS)
            out.append({**{name: row[name] for name in KEPT}, **values, "body_z": encode_body(body)})
        bind.execute(new.insert(), out)
        copied += len(out)
        last = rows[-1]["k"]


def upgrade() -> None:
    bind = op.get_bind()
    old = baseline_metadata.tables["exams"]
    new = _exams_0002("exams_0002")
    modules_indexes = _other_indexes(bind)
    new.create(bind)
    convert(bind, old, new)
    op.drop_table("exams")
    op.rename_table("exams_0002", "exams")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER INDEX exams_0002_pkey RENAME TO exams_pkey")
    renamed = _exams_0002("exams")
    for index in baseline_metadata.tables["exams"].indexes:  # 0001's indexes, on the new table
        sa.Index(index.name, *(renamed.c[c.name] for c in index.columns), **index.dialect_kwargs).create(bind)
    for sql in modules_indexes:
        op.execute(sql)


def downgrade() -> None:
    raise RuntimeError("0002 is not downgraded: restore a backup instead")
