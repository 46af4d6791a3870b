"""Issue 13, error 3 through the real kiosk workflow: a low temperature is re-measured at once, then decided.

Uses the kiosk harness of tests/kiosk_resume (real journal, roster, exam state and workflow;
scripted in-process devices): the workflow's existing "remeasure" machinery handles temp.low.
"""

from __future__ import annotations

from tests.async_helpers import run_async
from tests.kiosk_resume.resume_helpers import (
    ScriptedDevices,
    journal_exams,
    kiosk,
    script,
)


def _devices(*temps: float) -> ScriptedDevices:
    s = script()
    s["thermometer"] = [{"temperature_c": t} for t in temps]
    return ScriptedDevices(s)


def _run(tmp_path, *temps: float) -> tuple[dict, list[str]]:
    async def scenario():
        devices = _devices(*temps)
        async with kiosk(tmp_path, devices) as k:
            await k.badge_and_survey()
            remeasure = await k.screen("remeasure")
            view = await k.screen("result")
            return {**view, "remeasure_view": remeasure}, devices.measured
    return run_async(scenario())


def test_low_then_normal_temperature_is_admitted_after_a_remeasurement(tmp_path):
    view, measured = _run(tmp_path, 34.5, 36.6)
    assert view["outcome"] == "admitted"
    assert measured.count("thermometer") == 2 and measured.count("bp_cuff") == 1  # only the thermometer again
    exam = journal_exams(tmp_path)[0]
    assert [(f["rule"], f["effect"]) for f in exam["fired"] if f["rule"] == "temp.low"] == [("temp.low", "remeasure")]
    errors = view["remeasure_view"].get("errors") or []
    assert errors and "34" in errors[0]["ru"] and errors[0]["en"], "the screen says why it measures again"


def test_low_temperature_twice_goes_to_the_medic(tmp_path):
    view, measured = _run(tmp_path, 34.5, 34.6)
    assert view["outcome"] == "needs_medic"
    assert measured.count("thermometer") == 2
