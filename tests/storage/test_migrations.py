"""The hub's schema under Alembic (hub.db): a new database on either back end is migrated to the newest
revision at start, and a SQLite database written before migrations existed is adopted in place, its
records kept and still acknowledged, its module tables untouched."""

from __future__ import annotations

import sqlite3

import pytest

from firmware_bridges.contract import make_envelope
from hub.cli import main as hub_cli
from hub.db import migrate
from hub.db.exam_body import decode_body_text
from hub.store import Store, utc_now
from tests.foundation.helpers import exam_body
from tests.storage.legacy_schema import PRE_INCARNATION, PRE_MIGRATION

SITE, KIOSK = "plant-1", "kiosk-01"
#: the columns of ``exams`` at revision 0001, in order (what ``SELECT *`` gave before 0002)
EXAM_0001 = ("event_id", "site", "kiosk", "seq", "exam_id", "worker_id", "exam_type", "started_at", "finished_at",
             "outcome", "rule_set_version", "historical", "kiosk_ts", "received_at", "body", "chain_status",
             "incarnation")
CORE_TABLES = {"received", "exams", "telemetry_series", "telemetry_chunks", "telemetry_invalid", "events", "kiosks", "dead_letters", "dead_letter_totals",
               "conflicts", "audit_log", "kiosk_keys", "exam_chain"}


def _tables(store: Store) -> set[str]:
    if store.backend == "sqlite":
        return {r[0] for r in store.query_rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r[0] for r in store.query_rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _exam(seq: int, incarnation: str | None = "inc-a"):
    return make_envelope(SITE, KIOSK, "exam", exam_body(f"W{seq:05d}"), seq, incarnation=incarnation)


def test_a_new_database_is_migrated_to_the_newest_revision_at_start(hub_store_url, tmp_path, capsys):
    store = Store(hub_store_url)
    try:
        assert store.revision == migrate.head() == migrate.current(hub_store_url)
        assert CORE_TABLES <= _tables(store)
        result = store.commit_batch([(_exam(1), utc_now()), (_exam(2), utc_now())], [])
        assert len(result.stored) == 2 and store.sequence_ranges(SITE, KIOSK, "inc-a") == [(1, 2)]
    finally:
        store.close()
    config = tmp_path / "hub.toml"
    storage = f'url = "{hub_store_url}"' if "://" in hub_store_url else f'path = "{hub_store_url}"'
    config.write_text(f"[storage]\n{storage}\n")
    assert hub_cli(["db", "current", "--config", str(config)]) == 0
    assert hub_cli(["db", "upgrade", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"{migrate.head()} (up to date)"] * 2
    again = Store(hub_store_url)  # opening a migrated database changes nothing
    try:
        assert again.scalar("SELECT count(*) FROM exams") == 2 and again.revision == migrate.head()
    finally:
        again.close()


def _legacy_rows(conn: sqlite3.Connection, incarnations: bool) -> None:
    """Rows as the pre-migration Store.commit_batch wrote them: three exams, a dead letter, a key."""
    for seq in (1, 2, 4):
        env = _exam(seq, incarnation="inc-a" if incarnations else None)
        body = env.body
        inc = ("inc-a",) if incarnations else ()
        conn.execute(f"INSERT INTO received (site, kiosk, {'incarnation, ' if incarnations else ''}seq, event_id, kind, "
                     f"received_at) VALUES (?,?,{'?,' if incarnations else ''}?,?,?,?)",
                     (SITE, KIOSK, *inc, seq, str(env.event_id), "exam", utc_now()))
        conn.execute(
            f"INSERT INTO exams (event_id, site, kiosk, seq, exam_id, worker_id, exam_type, started_at, finished_at, "
            f"outcome, rule_set_version, historical, kiosk_ts, received_at, body, chain_status"
            f"{', incarnation' if incarnations else ''}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?{',?' if incarnations else ''})",
            (str(env.event_id), SITE, KIOSK, seq, body.exam_id, body.worker_id, body.exam_type,
             body.started_at.isoformat(), body.finished_at.isoformat(), body.outcome, body.rule_set_version, 0,
             env.ts.isoformat(), utc_now(), body.model_dump_json(), "unsigned", *inc))
    conn.execute("INSERT INTO dead_letters (received_at, topic, payload, payload_size, reason) VALUES (?,?,?,?,?)",
                 (utc_now(), "ohs/v1/x/y/exam", b"{junk", 5, "not JSON"))


def test_a_database_written_before_migrations_is_adopted_in_place(tmp_path):
    path = tmp_path / "hub.db"
    conn = sqlite3.connect(path)
    conn.executescript(PRE_MIGRATION)
    _legacy_rows(conn, incarnations=True)
    conn.execute("CREATE TABLE medic_decisions (id INTEGER PRIMARY KEY, decision_id TEXT NOT NULL)")
    conn.execute("INSERT INTO medic_decisions (decision_id) VALUES ('d-1')")  # a module's table: left alone
    conn.commit()
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
              for t in ("received", "exams", "dead_letters", "medic_decisions")}
    conn.close()

    store = Store(path)
    try:
        assert store.revision == migrate.head()
        for table, rows in before.items():
            if table == "exams":  # revision 0002 keeps the body compressed: the same text, decoded
                after = [(*row[:-1], decode_body_text(row[-1])) for row in store.query_rows(
                    f"SELECT {', '.join(c for c in EXAM_0001 if c != 'body')}, body_z FROM exams ORDER BY 1")]
                rows = [tuple(row[EXAM_0001.index(c)] for c in EXAM_0001 if c != "body") + (row[EXAM_0001.index("body")],)
                        for row in rows]
                assert after == rows, "exams changed"
                continue
            assert store.query_rows(f"SELECT * FROM {table} ORDER BY 1") == rows, f"{table} changed"
        assert store.sequence_ranges(SITE, KIOSK, "inc-a") == [(1, 2), (4, 4)]
        result = store.commit_batch([(_exam(3), utc_now()), (_exam(2), utc_now())], [])  # 2: another record
        assert [e.seq for e in result.stored] == [3]
        assert [code for code, _ in result.conflicts] == ["sequence_conflict"], "an adopted record is still itself"
        assert store.sequence_ranges(SITE, KIOSK, "inc-a") == [(1, 4)]
    finally:
        store.close()


def test_a_database_from_before_journal_incarnations_is_brought_to_the_baseline(tmp_path):
    path = tmp_path / "hub.db"
    conn = sqlite3.connect(path)
    conn.executescript(PRE_INCARNATION)
    _legacy_rows(conn, incarnations=False)
    conn.commit()
    conn.close()

    store = Store(path)
    try:
        assert store.revision == migrate.head()
        assert store.query_rows("SELECT seq, incarnation FROM received ORDER BY seq") == [(1, ""), (2, ""), (4, "")]
        assert store.query_rows("SELECT count(*), min(incarnation) FROM exams") == [(3, "")]
        assert store.query_rows("SELECT code FROM dead_letters") == [("other",)]
        indexes = {r[0] for r in store.query_rows("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "exams_by_time" not in indexes and {"exams_by_finished", "exams_by_site_time"} <= indexes
        assert store.sequence_ranges(SITE, KIOSK, "") == [(1, 2), (4, 4)]
    finally:
        store.close()


def test_an_unsupported_database_url_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="not supported"):
        Store("mysql://hub@localhost/hub")


def test_the_db_command_reports_an_unreachable_database_and_creates_no_file(tmp_path, capsys):
    from firmware_bridges.ports import free_port

    unreachable = tmp_path / "pg.toml"
    unreachable.write_text(f'[storage]\nurl = "postgresql://hub@127.0.0.1:{free_port()}/hub"\n')
    assert hub_cli(["db", "current", "--config", str(unreachable)]) == 2
    assert "cannot use the database" in capsys.readouterr().err
    missing = tmp_path / "sqlite.toml"
    missing.write_text(f'[storage]\npath = "{tmp_path / "new" / "hub.db"}"\n')
    assert hub_cli(["db", "current", "--config", str(missing)]) == 0
    assert capsys.readouterr().out.startswith("(none) (behind") and not (tmp_path / "new").exists()
    assert hub_cli(["db", "upgrade", "--config", str(missing)]) == 0 and (tmp_path / "new" / "hub.db").exists()
