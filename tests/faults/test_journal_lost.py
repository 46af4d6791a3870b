"""(g) The kiosk's journal is lost (re-imaged SD card) or restored from an older backup.

Both make the kiosk's sequence numbers start again below what the hub already holds. A hub
that acknowledged by sequence alone would ack the new exams as the old ones (the kiosk then
deletes them from its outbox: lost) or dead-letter them as conflicts. Every exam written on the
new or restored journal must reach the hub as a new record. Records are compared by event id,
so the test does not depend on how the fix tells journals apart (a journal incarnation).
"""

from __future__ import annotations

import shutil
import sqlite3
import time

from tests.faults.harness import (
    assert_exactly_once,
    dead_letter_count,
    eventually,
    hub_config,
    hub_exams,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    tally,
    wait_until,
    write_artifact,
)
from tests.foundation.helpers import exam_body

N_BEFORE = 30
N_AFTER = 30


def _write(agent, n: int, prefix: str) -> list[str]:
    return [agent.record("exam", exam_body(f"{prefix}{i:05d}")).event_id for i in range(n)]


def _settle(agent, hub_db, kiosk: str, ids: list[str], timeout: float = 25.0) -> bool:
    """Wait until these exams are at the hub, or the outbox is empty and nothing more can come."""
    def at_hub() -> bool:
        stored = {r["event_id"] for r in hub_exams(hub_db, kiosk)}
        return all(i in stored for i in ids)

    done = eventually(lambda: at_hub() or agent.journal.outbox_depth() == 0, timeout=timeout)
    if done and not at_hub():
        eventually(at_hub, timeout=5)  # emptied outbox: give stragglers a moment, then judge
    return at_hub()


def _remove_journal(path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (path.parent / (path.name + suffix)).unlink(missing_ok=True)


def test_reimaged_kiosk_with_an_empty_journal_delivers_its_new_exams(parts, tmp_path, artifacts_dir):
    kiosk = "kiosk-g1"
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, kiosk, broker.host, broker.port, outbox={"resend_after_s": 2})
    first = parts.agent(kconf)
    old_ids = _write(first, N_BEFORE, "G")
    wait_until(lambda: first.journal.outbox_depth() == 0, timeout=30, message="the first journal delivered")
    old_rows = journal_rows(kconf.journal.path, "exam")
    first.stop()
    dead_before = dead_letter_count(hub.db_path)

    # the SD card is re-imaged: the journal is gone (the whole kiosk directory, key included)
    shutil.rmtree(kconf.journal.path.parent)
    second = parts.agent(kconf)
    new_ids = _write(second, N_AFTER, "H")
    delivered = _settle(second, hub.db_path, kiosk, new_ids)
    new_rows = journal_rows(kconf.journal.path, "exam")
    stored = {r["event_id"] for r in hub_exams(hub.db_path, kiosk)}
    new_missing = [i for i in new_ids if i not in stored]
    dead_after = dead_letter_count(hub.db_path)
    outbox = journal_outbox(kconf.journal.path)
    result = tally(hub.db_path, kiosk, old_rows + new_rows, outbox_depth=outbox)
    write_artifact(artifacts_dir, "g_journal_reimaged", {
        **result.as_dict(), "old_exams": len(old_ids), "new_exams": len(new_ids),
        "new_exams_at_hub": len(new_ids) - len(new_missing), "new_exams_missing": len(new_missing),
        "dead_lettered_during_test": dead_after - dead_before, "new_journal_first_seq": new_rows[0]["seq"],
    })
    say(f"re-imaged kiosk: {len(new_missing)} of {len(new_ids)} new exams missing at the hub")

    assert not new_missing, (f"{len(new_missing)} of {len(new_ids)} exams written on the new journal never reached "
                             "the hub (acked as the old journal's records or dead-lettered)")
    assert dead_after == dead_before, f"{dead_after - dead_before} of the new journal's exams were dead-lettered"
    assert delivered and outbox == 0, f"{outbox} records still in the new journal's outbox"
    assert_exactly_once(result, telemetry=False)


def test_journal_restored_from_an_older_backup_delivers_everything_written_after(parts, tmp_path, artifacts_dir):
    kiosk = "kiosk-g2"
    broker = parts.broker()
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, kiosk, broker.host, broker.port, outbox={"resend_after_s": 2})
    journal = kconf.journal.path
    backup = tmp_path / "backup" / "journal.db"
    backup.parent.mkdir(parents=True)

    agent = parts.agent(kconf)
    before_backup = _write(agent, 20, "P")
    wait_until(lambda: agent.journal.outbox_depth() == 0, timeout=30, message="the first exams delivered")
    # mid-run backup: SQLite's online backup of the live journal (what a backup tool would take)
    source = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    target = sqlite3.connect(backup)
    source.backup(target)
    source.close()
    target.close()
    after_backup = _write(agent, 20, "Q")
    wait_until(lambda: agent.journal.outbox_depth() == 0, timeout=30, message="the exams after the backup delivered")
    rows_before_restore = journal_rows(journal, "exam")
    agent.stop()
    dead_before = dead_letter_count(hub.db_path)

    # the kiosk's journal is restored from the older copy; the kiosk goes on writing
    _remove_journal(journal)
    shutil.copyfile(backup, journal)
    restored = parts.agent(kconf)
    time.sleep(0.5)
    after_restore = _write(restored, 20, "R")
    delivered = _settle(restored, hub.db_path, kiosk, after_restore)
    rows_after = journal_rows(journal, "exam")
    stored = {r["event_id"] for r in hub_exams(hub.db_path, kiosk)}
    missing = [i for i in after_restore if i not in stored]
    dead_after = dead_letter_count(hub.db_path)
    outbox = journal_outbox(journal)
    every_exam = {r["event_id"]: r for r in rows_before_restore + rows_after}
    result = tally(hub.db_path, kiosk, list(every_exam.values()), outbox_depth=outbox)
    write_artifact(artifacts_dir, "g_journal_restored", {
        **result.as_dict(), "before_backup": len(before_backup), "after_backup": len(after_backup),
        "after_restore": len(after_restore), "after_restore_missing": len(missing),
        "dead_lettered_during_test": dead_after - dead_before,
        "restored_first_new_seq": min((r["seq"] for r in rows_after if r["event_id"] in set(after_restore)),
                                      default=None),
    })
    say(f"restored journal: {len(missing)} of {len(after_restore)} exams written after the restore missing")

    assert not missing, (f"{len(missing)} of {len(after_restore)} exams written after the restore never reached the "
                         "hub (their sequence numbers were already taken by the exams written after the backup)")
    assert dead_after == dead_before, f"{dead_after - dead_before} exams written after the restore were dead-lettered"
    assert delivered and outbox == 0, f"{outbox} records still in the restored journal's outbox"
    assert_exactly_once(result, telemetry=False)
