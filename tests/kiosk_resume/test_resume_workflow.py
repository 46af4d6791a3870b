"""Exams in progress survive a kiosk restart (edge_agent.exam_state + the workflow's resume).

Each test runs a kiosk (real journal, roster, exam state store and workflow; scripted
in-process devices), tears it down in the middle of an exam, starts a new kiosk on the same
files and checks the exam is resumed and recorded exactly once, with every measurement.
"""

from __future__ import annotations

import asyncio
import sqlite3

from edge_agent.admission import load_rule_set
from edge_agent.exam_state import ExamStateStore, StoredExam
from firmware_bridges.devices import DeviceDisconnected
from tests.async_helpers import run_async
from tests.kiosk_resume.resume_helpers import (
    CARD,
    ScriptedDevices,
    breaths,
    clock_at,
    in_progress,
    journal_exams,
    kiosk,
    script,
)

RULES = load_rule_set()


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def first_breath_positive(tmp_path) -> str:
    """Kiosk run 1: the worker blows 0.45 mg/L and is sent to the confirmation test; the
    kiosk is torn down during the wait. Returns the exam id."""
    async with kiosk(tmp_path, ScriptedDevices(script(brac=[0.45]))) as k:
        await k.badge_and_survey()
        view = await k.screen("retest_wait")
        assert 890 <= (view["due_at"] - k.clock.now()).total_seconds() <= 900
        rows = in_progress(tmp_path)
        assert len(rows) == 1 and rows[0][1] == "retest_wait"  # durable before the screen showed the wait
        exam_id = rows[0][0]
        assert journal_exams(tmp_path) == []
    return exam_id


def test_a_positive_first_breath_survives_a_restart_and_is_confirmed_after_it(tmp_path):
    async def scenario():
        exam_id = await first_breath_positive(tmp_path)
        # run 2, five minutes later: the countdown continues from the stored due time
        devices = ScriptedDevices(script(brac=[0.41]))
        async with kiosk(tmp_path, devices, clock_at(5)) as k:
            waiting = k.workflow.snapshot()["waiting"]
            assert len(waiting) == 1 and waiting[0]["ticket"] == 1 and "name" not in waiting[0], waiting
            assert 590 <= waiting[0]["due_in_s"] <= 600, waiting  # 15 min − 5 min down, not 15 min again
            assert 890 <= waiting[0]["window_closes_in_s"] <= 900
            k.clock.advance(10 * 60 + 1)
            await until(lambda: any("подойдите" in n["ru"] for n in k.workflow.snapshot()["notices"]),
                        what="call-back")
            k.workflow.submit("badge", {"card_id": CARD})
            view = await k.screen("result")
            assert view["outcome"] == "not_admitted" and view["notify_employer"] is True
            assert devices.measured == ["alcotester"]  # only the confirmation was measured again
            assert in_progress(tmp_path) == []
        exams = journal_exams(tmp_path)
        assert [e["exam_id"] for e in exams] == [exam_id]
        exam = exams[0]
        assert exam["outcome"] == "not_admitted" and exam["notify_employer"] is True
        assert breaths(exam) == [(1, 0.45), (2, 0.41)]
        assert {m["field"] for m in exam["measurements"] if m["attempt"] == 1} == {
            "systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "temperature_c", "spo2_percent", "brac_mg_l"}
        assert 15 <= exam["attempts"][1]["minute"] <= 20
        assert any(f["rule"] == "alcohol" and f["effect"] == "not_admitted" for f in exam["fired"])
        assert exam["answers"] == {"slept_enough": True, "feels_unwell": False, "took_medication": False}
        assert exam["chain"]["index"] == 1

    run_async(scenario())


def test_a_confirmation_window_closed_while_the_kiosk_was_down_sends_the_exam_to_the_medic(tmp_path):
    async def scenario():
        exam_id = await first_breath_positive(tmp_path)
        async with kiosk(tmp_path, ScriptedDevices(script()), clock_at(25)) as k:  # down for 25 min
            assert k.workflow.snapshot()["waiting"] == []
            assert in_progress(tmp_path) == []
        exams = journal_exams(tmp_path)
        assert [e["exam_id"] for e in exams] == [exam_id]
        exam = exams[0]
        assert exam["outcome"] == "needs_medic" and exam["medic_queue"] is True
        assert breaths(exam) == [(1, 0.45)]  # the positive first breath is in the record
        window = [f for f in exam["fired"] if f["rule"] == "alcohol.window"]
        assert len(window) == 1 and window[0]["effect"] == "needs_medic"
        assert window[0]["source"] == RULES.rules.alcohol_window.source  # the rule set's citation
        assert window[0]["detail"]["first_value"] == 0.45
        assert (window[0]["detail"]["window_from"], window[0]["detail"]["window_to"]) == (15, 20)
        assert any(r["rule"] == "alcohol.window" and "15–20" in r["ru"] for r in exam["reasons"])
        assert exam["summary"]["en"].startswith("Please wait for the medical worker")

    run_async(scenario())


def test_a_kiosk_dying_between_the_exam_record_and_the_row_deletion_records_the_exam_once(tmp_path, monkeypatch):
    async def scenario():
        exam_id = await first_breath_positive(tmp_path)
        # run 2 confirms, but "dies" before its in-progress row is deleted
        with monkeypatch.context() as m:
            m.setattr(ExamStateStore, "delete", lambda self, exam_id: False)
            async with kiosk(tmp_path, ScriptedDevices(script(brac=[0.41])), clock_at(16)) as k:
                k.workflow.submit("badge", {"card_id": CARD})
                assert (await k.screen("result"))["outcome"] == "not_admitted"
        assert [e["exam_id"] for e in journal_exams(tmp_path)] == [exam_id]
        assert in_progress(tmp_path) == [(exam_id, "retest_wait")]
        # run 3 (still inside the window, long after the give-up time): finds the record, records nothing again
        async with kiosk(tmp_path, ScriptedDevices(script()), clock_at(17)) as k:
            assert k.workflow.snapshot()["waiting"] == []
        async with kiosk(tmp_path, ScriptedDevices(script()), clock_at(90)):
            pass
        assert [e["exam_id"] for e in journal_exams(tmp_path)] == [exam_id]
        assert in_progress(tmp_path) == []

    run_async(scenario())


def test_a_blood_pressure_retest_keeps_its_due_time_across_a_restart(tmp_path):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script(bp=[(152, 96, 72)]))) as k:
            await k.badge_and_survey()
            view = await k.screen("retest_wait")
            assert 1190 <= (view["due_at"] - k.clock.now()).total_seconds() <= 1200  # 835н п.11: ≥ 20 min
        devices = ScriptedDevices(script(bp=[(128, 82, 70)]))
        async with kiosk(tmp_path, devices, clock_at(8)) as k:
            waiting = k.workflow.snapshot()["waiting"]
            assert 710 <= waiting[0]["due_in_s"] <= 720 and waiting[0]["window_closes_in_s"] is None
            k.workflow.submit("badge", {"card_id": CARD})  # too early: sent away again
            assert (await k.screen("retest_wait"))["early"] is True
            k.workflow.submit("ok")
            await k.screen("idle")
            k.clock.advance(12 * 60 + 1)
            k.workflow.submit("badge", {"card_id": CARD})
            assert (await k.screen("result"))["outcome"] == "admitted"
            assert devices.measured == ["bp_cuff"]
        (exam,) = journal_exams(tmp_path)
        assert [m["value"] for m in exam["measurements"] if m["field"] == "systolic_mmhg"] == [152, 128]
        assert exam["attempts"][1]["minute"] >= 20

    run_async(scenario())


def test_a_worker_who_never_comes_back_after_a_restart_goes_to_the_medic(tmp_path):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script(bp=[(152, 96, 72)]))) as k:
            await k.badge_and_survey()
            await k.screen("retest_wait")
        # down past the due time + retest_give_up_after_min (20 + 30 min): closed at start
        async with kiosk(tmp_path, ScriptedDevices(script()), clock_at(55)) as k:
            await until(lambda: journal_exams(tmp_path), what="the exam record")
            assert k.workflow.snapshot()["waiting"] == []
        (exam,) = journal_exams(tmp_path)
        assert exam["outcome"] == "needs_medic"
        assert any(f["rule"] == "workflow.retest_missed" for f in exam["fired"])
        assert in_progress(tmp_path) == []

    run_async(scenario())


def test_a_restart_during_a_remeasurement_calls_the_worker_back_for_what_is_missing(tmp_path):
    async def scenario():
        error = DeviceDisconnected.for_kind("alcotester", "cable")
        async with kiosk(tmp_path, ScriptedDevices(script(brac=[error])), remeasure_pause_s=60) as k:
            await k.badge_and_survey()
            await k.screen("remeasure")
            assert [state for _, state in in_progress(tmp_path)] == ["measured"]
        devices = ScriptedDevices(script(brac=[0.0]))
        async with kiosk(tmp_path, devices, clock_at(1)) as k:
            waiting = k.workflow.snapshot()["waiting"]
            assert len(waiting) == 1 and waiting[0]["called"] is True
            k.workflow.submit("badge", {"card_id": CARD})
            assert (await k.screen("result"))["outcome"] == "admitted"
            assert devices.measured == ["alcotester"]
        (exam,) = journal_exams(tmp_path)
        assert breaths(exam) == [(1, None), (2, 0.0)]
        assert in_progress(tmp_path) == []

    run_async(scenario())


def test_the_exam_state_table_is_durable_and_lives_in_the_journal_file(tmp_path):
    store = ExamStateStore(tmp_path / "journal.db")
    try:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        row = StoredExam(exam_id="e-1", worker_id="T-1", state="retest_wait", session={"x": "ы"},
                         retest_kinds=["alcotester"])
        store.save(row)
        store.save(row)
        assert not store.journaled("e-1")  # no journal table yet: nothing recorded
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "journal.db")
    assert db.execute("SELECT exam_id, state, retest_kinds, session, revision FROM exam_in_progress").fetchall() == [
        ("e-1", "retest_wait", '["alcotester"]', '{"x": "ы"}', 2)]
    db.close()
