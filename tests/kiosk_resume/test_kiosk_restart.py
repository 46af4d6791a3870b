"""The real kiosk (runtime, simulated devices on their real protocols, ``tests/kiosk_ui``)
restarted during an alcohol confirmation wait — torn down in-process, and killed with
SIGKILL as a process — resumes the exam on the same journal: the worker is called back,
the confirmation is measured and the exam is recorded once, with both breaths."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.kiosk_resume.kiosk_proc import ONE_EXAM_TYPE, first_breath
from tests.kiosk_resume.resume_helpers import breaths, in_progress, journal_exams
from tests.kiosk_ui.kiosk_world import IVANOV, kiosk_world, run_async

ROOT = Path(__file__).resolve().parents[2]


async def confirm_after_restart(tmp: Path, broker, exam_id: str) -> None:
    async with kiosk_world(tmp, broker, intoxicated=True, brac=[0.41], consent=True, hub=False,
                           workflow=ONE_EXAM_TYPE) as world:
        waiting = world.workflow.snapshot()["waiting"]
        assert len(waiting) == 1 and waiting[0]["ticket"] >= 1 and "name" not in waiting[0], waiting
        assert 0 < waiting[0]["due_in_s"] <= 900 and waiting[0]["window_closes_in_s"] <= 1200
        world.clock.advance(15 * 60 + 1)
        world.present(IVANOV.card)
        view = await world.wait_screen("result", 60)
        assert view["outcome"] == "not_admitted" and view["notify_employer"] is True
        assert "НЕ ДОПУЩЕН" in "\n".join(world.printer.jobs[-1]["lines"])
    exams = journal_exams(tmp / "kiosk")
    assert [e["exam_id"] for e in exams] == [exam_id]
    assert breaths(exams[0]) == [(1, 0.45), (2, 0.41)]
    assert 15 <= exams[0]["attempts"][-1]["minute"] <= 20
    assert any(f["rule"] == "alcohol" and f["effect"] == "not_admitted" for f in exams[0]["fired"])
    assert in_progress(tmp / "kiosk") == []


def test_the_kiosk_resumes_a_pending_alcohol_confirmation_after_a_restart(tmp_path, broker):
    async def scenario():
        async with kiosk_world(tmp_path, broker, intoxicated=True, brac=[0.45], consent=True, hub=False,
                               workflow=ONE_EXAM_TYPE) as world:
            exam_id = await first_breath(world)
        assert journal_exams(tmp_path / "kiosk") == []
        await confirm_after_restart(tmp_path, broker, exam_id)

    run_async(scenario(), timeout=150)


def test_a_kiosk_killed_with_sigkill_resumes_the_pending_confirmation(tmp_path, broker):
    proc = subprocess.Popen([sys.executable, "-m", "tests.kiosk_resume.kiosk_proc", str(tmp_path), broker.host,
                             str(broker.port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)  # the process ended

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=90)
            assert line is not None, "the kiosk process ended before the re-test:\n" + "".join(seen)
            seen.append(line)
            if line.startswith("RETEST "):
                exam_id = line.split()[1]
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no clean-up of any kind: as a power cut would
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert in_progress(tmp_path / "kiosk") == [(exam_id, "retest_wait")]
    run_async(confirm_after_restart(tmp_path, broker, exam_id), timeout=120)
