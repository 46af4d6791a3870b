"""Issue 15, kiosk capacity: the cuff measures while the worker answers the survey, and the next
worker may badge in while the previous worker's printed result shows — without a question
answered off screen, a reading given to the wrong worker, or a result shown before its record
is durable.

The workflow runs on a real journal, roster and exam state store (tests/kiosk_resume/resume_helpers.py);
the devices are in-process and held by the test, so it decides when each measurement ends.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from edge_agent.workflow import WorkflowSettings
from firmware_bridges.devices import SerialSettings
from firmware_bridges.serial.printer import PrinterSettings, ReceiptPrinter
from simulators.serial.printer import PrinterSim
from simulators.serial.pty import PtyPort
from tests.async_helpers import run_async
from tests.kiosk_resume.resume_helpers import CARD, WORKER, ScriptedDevices, journal_exams, kiosk, script

OTHER = {**WORKER, "personnel_number": "T-1002", "full_name": "Петров Пётр Ильич", "badges": ["0006102438"]}
OTHER_CARD = "0006102438"


class HeldDevices(ScriptedDevices):
    """Scripted devices that note what the screen showed when each measurement started and
    ended; a measurement of a kind in ``held`` waits for its event (one per call, in order)."""

    def __init__(self, values: dict[str, list]):
        super().__init__(values)
        self.log: list[tuple[str, str, str]] = []  # (start|end, kind, screen)
        self.held: dict[str, list[asyncio.Event]] = {}
        self.workflow = None

    def hold(self, kind: str) -> asyncio.Event:
        event = asyncio.Event()
        self.held.setdefault(kind, []).append(event)
        return event

    def _screen(self) -> str:
        return str(self.workflow.view["screen"]) if self.workflow is not None else "?"

    def started(self, kind: str) -> int:
        return sum(1 for e in self.log if e[0] == "start" and e[1] == kind)

    def ended(self, kind: str) -> int:
        return sum(1 for e in self.log if e[0] == "end" and e[1] == kind)

    async def measure(self, kind: str, *, timeout=None, progress=None):
        self.log.append(("start", kind, self._screen()))
        gates = self.held.get(kind)
        if gates:
            await gates.pop(0).wait()
        try:
            return await super().measure(kind, timeout=timeout, progress=progress)
        finally:
            self.log.append(("end", kind, self._screen()))


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.01)


async def answer_survey(k, values=(True, False, False)) -> list[dict]:
    """Answer each question shown, naming it (as the page does); the views seen."""
    seen = []
    for i, value in enumerate(values):
        await until(lambda i=i: k.workflow.view["screen"] == "survey" and k.workflow.view.get("index") == i,
                    f"survey question {i}")
        view = dict(k.workflow.view)
        seen.append(view)
        k.workflow.tap("answer", {"value": value, "question": view["question"]["id"], "step": k.workflow.taps.step})
    return seen


async def inputs_taken(k) -> None:
    """Every input submitted so far has been read by the workflow."""
    await until(k.workflow._inputs.empty, "the workflow read its inputs")
    for _ in range(3):
        await asyncio.sleep(0)


def test_the_cuff_measures_while_the_survey_is_answered_and_the_record_is_whole(tmp_path):
    """The cuff starts once the exam type is known and its card (with the instruction) is under
    each question; the breathalyzer and the others start after the last answer; the record has
    every answer and every reading of the worker, taken in the first attempt."""
    devices = HeldDevices(script(bp=[(128, 82, 70)]))
    cuff_done = devices.hold("bp_cuff")

    async def scenario():
        async with kiosk(tmp_path, devices) as k:
            devices.workflow = k.workflow
            await k.screen("idle")
            k.workflow.submit("badge", {"card_id": CARD})
            views = await answer_survey(k)
            assert devices.log[0] == ("start", "bp_cuff", "survey")  # measuring before the first answer
            for view in views:
                assert [c["kind"] for c in view["devices"]] == ["bp_cuff"]
            assert {e[1] for e in devices.log} == {"bp_cuff"}  # nothing else before the survey ended
            await until(lambda: devices.ended("alcotester") == 1, "the breath test")
            assert ("start", "alcotester", "measuring") in devices.log
            view = await k.screen("measuring")
            cuff = next(c for c in view["devices"] if c["kind"] == "bp_cuff")
            assert cuff["state"] == "measuring"  # the same card, still under way
            assert not journal_exams(tmp_path)
            cuff_done.set()
            view = await k.screen("result")
            exams = journal_exams(tmp_path)  # durable before the result shows
            assert len(exams) == 1 and view["outcome"] == exams[0]["outcome"]
        exam = exams[0]
        assert exam["worker_id"] == WORKER["personnel_number"]
        assert exam["answers"] == {"slept_enough": True, "feels_unwell": False, "took_medication": False}
        fields = {m["field"]: (m["attempt"], m["value"]) for m in exam["measurements"]}
        assert fields["systolic_mmhg"] == (1, 128) and fields["diastolic_mmhg"] == (1, 82)
        assert {"temperature_c", "spo2_percent", "brac_mg_l"} <= fields.keys()
        assert exam["outcome"] == "admitted" and len(exam["attempts"]) == 1

    run_async(scenario())


def test_with_no_device_during_the_survey_it_is_asked_first(tmp_path):
    """``survey_while_measuring = []``: the old order, survey then every device."""
    devices = HeldDevices(script())

    async def scenario():
        async with kiosk(tmp_path, devices, survey_while_measuring=[]) as k:
            devices.workflow = k.workflow
            await k.screen("idle")
            k.workflow.submit("badge", {"card_id": CARD})
            views = await answer_survey(k)
            assert all(not v.get("devices") for v in views)
            await k.screen("result")
        assert {screen for event, _, screen in devices.log if event == "start"} == {"measuring"}

    run_async(scenario())


def test_a_survey_abandoned_while_the_cuff_measures_gives_its_reading_to_nobody(tmp_path):
    """The worker cancels mid-survey: no exam is recorded; the cuff cycle under way runs to its end
    and its reading is dropped — the next worker's cuff measurement starts only after it, and
    their record has their own reading."""
    devices = HeldDevices(script(bp=[(168, 104, 90), (121, 79, 68)]))
    first_cuff = devices.hold("bp_cuff")

    async def scenario():
        async with kiosk(tmp_path, devices) as k:
            devices.workflow = k.workflow
            k.roster.apply_update({"version": "t2", "full": True, "workers": [WORKER, OTHER]})
            await k.screen("idle")
            k.workflow.submit("badge", {"card_id": CARD})
            await until(lambda: k.workflow.view["screen"] == "survey", "the survey")
            k.workflow.tap("cancel", {"step": k.workflow.taps.step})
            view = await k.screen("message")
            assert view["kind"] == "abandoned"
            k.workflow.submit("badge", {"card_id": OTHER_CARD})  # the next worker is already there
            for _ in range(20):
                await asyncio.sleep(0)
            # the workflow waits for the cuff cycle under way: the badge stays queued
            assert devices.started("bp_cuff") == 1 and devices.ended("bp_cuff") == 0
            assert k.workflow.view["screen"] == "message" and not k.workflow._inputs.empty()
            first_cuff.set()
            await until(lambda: devices.started("bp_cuff") == 2, "the next worker's cuff")
            assert devices.log.index(("end", "bp_cuff", "message")) < [
                i for i, e in enumerate(devices.log) if e[:2] == ("start", "bp_cuff")][1]
            assert k.workflow.current.worker["personnel_number"] == OTHER["personnel_number"]
            await answer_survey(k, (True, False, False))
            await k.screen("result")
        exams = journal_exams(tmp_path)
        assert [e["worker_id"] for e in exams] == [OTHER["personnel_number"]]
        bp = {m["field"]: m["value"] for m in exams[0]["measurements"] if m["field"].endswith("mmhg")}
        assert bp == {"systolic_mmhg": 121, "diastolic_mmhg": 79}

    run_async(scenario())


def test_the_next_worker_badges_in_on_a_printed_result_but_waits_while_it_is_the_only_copy(tmp_path):
    """With the slip printed the next badge ends the result screen at once; without a slip the
    result stays for its owner until their OK, then the waiting badge starts the next exam."""
    devices = HeldDevices(script())

    async def scenario():
        port = PtyPort(str(tmp_path / "printer"))
        sim = PrinterSim(port)
        sim_task = asyncio.create_task(sim.run())
        try:
            async with kiosk(tmp_path, devices) as k:
                devices.workflow = k.workflow
                k.roster.apply_update({"version": "t2", "full": True, "workers": [WORKER, OTHER]})
                k.workflow.printer = ReceiptPrinter(PrinterSettings(serial=SerialSettings(port=port.path),
                                                                    status_timeout_s=0.5))
                await k.screen("idle")
                k.workflow.submit("badge", {"card_id": CARD})
                await answer_survey(k, (True, False, False))
                view = await k.screen("result")
                assert view["printed"] is True
                k.workflow.submit("badge", {"card_id": OTHER_CARD})  # no OK from the first worker
                await until(lambda: k.workflow.view["screen"] == "survey", "the next worker's survey")
                assert k.workflow.current.worker["personnel_number"] == OTHER["personnel_number"]
                k.workflow.printer = None  # no slip for this one: the screen is the only copy
                await answer_survey(k, (True, False, False))
                view = await k.screen("result")
                assert view["printed"] is None and view["ticket"] == k.workflow.current.ticket
                k.workflow.submit("badge", {"card_id": CARD})
                await inputs_taken(k)
                assert k.workflow.view["screen"] == "result" and k.workflow.view is view  # still the owner's
                k.workflow.tap("ok", {"step": k.workflow.taps.step})
                await until(lambda: k.workflow.view["screen"] == "survey", "the held badge's exam")
                assert k.workflow.current.worker["personnel_number"] == WORKER["personnel_number"]
                k.workflow.tap("cancel", {"step": k.workflow.taps.step})
                await k.screen("message")
            jobs = await sim.wait_jobs(1)
            assert len(jobs) == 1
        finally:
            port.close()
            sim_task.cancel()
            await asyncio.gather(sim_task, return_exceptions=True)
        exams = journal_exams(tmp_path)
        assert [e["worker_id"] for e in exams] == [WORKER["personnel_number"], OTHER["personnel_number"]]

    run_async(scenario())


def test_the_breathalyzer_never_measures_during_the_survey():
    with pytest.raises(ValidationError, match="breathalyzer"):
        WorkflowSettings(survey_while_measuring=["bp_cuff", "alcotester"])
    with pytest.raises(ValidationError, match="unknown measuring device"):
        WorkflowSettings(survey_while_measuring=["ecg"])
    assert WorkflowSettings().survey_while_measuring == ["bp_cuff"]
    assert WorkflowSettings(survey_while_measuring=["bp_cuff", "bp_cuff"]).survey_while_measuring == ["bp_cuff"]
