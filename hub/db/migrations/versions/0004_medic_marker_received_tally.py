"""Reads whose cost follows what waits, not history: the medic queue, decided exams, stored-record counts.

* ``exams.medic_decision`` — the exam's current medic decision (``admitted`` / ``not_admitted``; NULL
  while it has none), written by :func:`hub.medic.record_decision` in the transaction that stores the
  decision (``medic_decisions`` stays the record; this is its newest value on the exam row). A NULL
  column added at the end costs no byte in rows written before it and one header byte after.
* ``exams_medic_waiting`` — partial index on (finished_at, seq) of the held exams (``needs_medic`` /
  ``not_admitted``) without a decision: the medic queue walks the exams that wait, not the year's held
  exams (``hub.medic.review_queue`` / ``queue_size``).
* ``exams_medic_decided`` — partial index on (finished_at, seq) of the exams a medic decided (~1.5 % of
  exams): the final-outcome counts (``/api/v1/stats/exams``, the journal's ``final_outcome`` filter)
  find a period's decided exams without visiting the others.
* ``received_tally`` — stored records per kiosk journal (site, kiosk, incarnation), kept by triggers on
  ``received`` (any writer, in the writer's transaction): ``GET /api/v1/kiosks`` reads eight rows instead
  of counting every record. Filled once here from ``received``.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HELD = "outcome IN ('needs_medic', 'not_admitted')"

SQLITE_TRIGGERS = (
    "CREATE TRIGGER received_tally_insert AFTER INSERT ON received BEGIN "
    "INSERT INTO received_tally (site, kiosk, incarnation, records) VALUES (NEW.site, NEW.kiosk, NEW.incarnation, 1) "
    "ON CONFLICT (site, kiosk, incarnation) DO UPDATE SET records = records + 1; END",
    "CREATE TRIGGER received_tally_delete AFTER DELETE ON received BEGIN "
    "UPDATE received_tally SET records = records - 1 "
    "WHERE site = OLD.site AND kiosk = OLD.kiosk AND incarnation = OLD.incarnation; END",
)

POSTGRESQL_TRIGGERS = (
    "CREATE FUNCTION received_tally_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO received_tally (site, kiosk, incarnation, records) VALUES (NEW.site, NEW.kiosk, NEW.incarnation, 1) "
    "ON CONFLICT (site, kiosk, incarnation) DO UPDATE SET records = received_tally.records + 1; "
    "ELSE UPDATE received_tally SET records = records - 1 "
    "WHERE site = OLD.site AND kiosk = OLD.kiosk AND incarnation = OLD.incarnation; "
    "END IF; RETURN NULL; END $$",
    "CREATE TRIGGER received_tally_count AFTER INSERT OR DELETE ON received "
    "FOR EACH ROW EXECUTE FUNCTION received_tally_count()",
)


def _backfill_decisions(bind) -> None:
    """Set ``medic_decision`` from the decisions already stored (a hub whose medic module made its table)."""
    inspector = sa.inspect(bind)
    if "medic_decisions" not in inspector.get_table_names():
        return
    columns = {c["name"] for c in inspector.get_columns("medic_decisions")}
    if not {"id", "event_id", "decision"} <= columns:
        return  # not the medic module's table: left alone
    op.execute(
        "UPDATE exams SET medic_decision = (SELECT d.decision FROM medic_decisions d WHERE d.event_id = exams.event_id "
        "ORDER BY d.id DESC LIMIT 1) WHERE event_id IN (SELECT event_id FROM medic_decisions)")


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("exams", sa.Column("medic_decision", sa.Text, nullable=True))
    _backfill_decisions(bind)
    waiting = sa.text(f"{HELD} AND medic_decision IS NULL")
    decided = sa.text("medic_decision IS NOT NULL")
    op.create_index("exams_medic_waiting", "exams", ["finished_at", "seq"],
                    sqlite_where=waiting, postgresql_where=waiting)
    op.create_index("exams_medic_decided", "exams", ["finished_at", "seq"],
                    sqlite_where=decided, postgresql_where=decided)
    op.create_table(
        "received_tally",
        sa.Column("site", sa.Text, nullable=False), sa.Column("kiosk", sa.Text, nullable=False),
        sa.Column("incarnation", sa.Text, nullable=False), sa.Column("records", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("site", "kiosk", "incarnation"))
    op.execute("INSERT INTO received_tally (site, kiosk, incarnation, records) "
               "SELECT site, kiosk, incarnation, count(*) FROM received GROUP BY site, kiosk, incarnation")
    for statement in (POSTGRESQL_TRIGGERS if bind.dialect.name == "postgresql" else SQLITE_TRIGGERS):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS received_tally_count ON received")
        op.execute("DROP FUNCTION IF EXISTS received_tally_count()")
    else:
        op.execute("DROP TRIGGER IF EXISTS received_tally_insert")
        op.execute("DROP TRIGGER IF EXISTS received_tally_delete")
    op.drop_table("received_tally")
    op.drop_index("exams_medic_decided", "exams")
    op.drop_index("exams_medic_waiting", "exams")
    op.drop_column("exams", "medic_decision")
