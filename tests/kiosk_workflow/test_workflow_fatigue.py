"""The optional fatigue / stress screening at the kiosk (issue 13, seed 002 B.3.3.5): asked after the
complaints survey, one tap per item, scored by the instrument table the hub's model uses, recorded
in the exam for the medic, and changing the outcome only where the kiosk is configured to.

The workflow runs on a real journal, roster and exam state store (tests/kiosk_resume/resume_helpers.py)."""

from __future__ import annotations

import asyncio
import tomllib

import pytest
from pydantic import ValidationError

from edge_agent.workflow import WorkflowSettings
from edge_agent.workflow.taps import TapGuard, TapRefused
from firmware_bridges import fatigue
from firmware_bridges.configfile import ConfigError
from firmware_bridges.contract import ExamBody
from hub.models.registry import run_model
from tests.async_helpers import run_async
from tests.kiosk_resume.resume_helpers import ScriptedDevices, journal_exams, kiosk, script

TABLE = tomllib.loads(fatigue.default_table_path().read_text(encoding="utf-8"))


async def answer_items(k, values: list[int]) -> list[dict]:
    """Tap each screening item's answer through the tap guard, as the page does; the items seen."""
    seen = []
    for i, value in enumerate(values):
        view = await k.screen("fatigue")
        while view.get("index") != i:
            await asyncio.sleep(0.01)
            view = k.workflow.view
        seen.append(view["item"])
        k.workflow.tap("fatigue_answer", {"item": view["item"]["id"], "points": value, "step": k.workflow.taps.step})
    return seen


def test_the_screening_is_recorded_with_item_texts_scores_and_bands_and_does_not_change_the_outcome(tmp_path):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script()), fatigue={"enabled": True}) as k:
            await k.badge_and_survey()
            view = await k.screen("fatigue")
            step = k.workflow.taps.step
            assert (view["item"]["id"], view["index"], view["total"]) == ("kss", 0, 2)
            assert [s["value"] for s in view["item"]["scale"]] == list(range(1, 10))
            with pytest.raises(TapRefused, match="not on screen"):  # an answer meant for another item
                k.workflow.tap("fatigue_answer", {"item": "elo_stress", "points": 2, "step": step})
            with pytest.raises(TapRefused, match="not an answer") as off_scale:
                k.workflow.tap("fatigue_answer", {"item": "kss", "points": 10, "step": step})
            assert off_scale.value.status == 422
            k.workflow.tap("fatigue_answer", {"item": "kss", "points": 7, "step": step})
            with pytest.raises(TapRefused):  # the second tap of a double tap never answers the next item
                k.workflow.tap("fatigue_answer", {"item": "kss", "points": 7, "step": step})
            seen = [view["item"], *await answer_items_from(k, 1, [2])]
            await k.screen("result")
            assert [item["id"] for item in seen] == ["kss", "elo_stress"]
        exam = journal_exams(tmp_path)[-1]
        assert exam["outcome"] == "admitted" and not any(f["rule"].startswith("fatigue") for f in exam["fired"])
        screen = exam["fatigue"]
        assert screen["instruments"] == ["kss", "elo_stress"]
        assert [(a["item"], a["value"], a["ru"], a["en"]) for a in screen["answers"]] == [
            ("kss", 7, TABLE["kss"]["question"]["ru"], TABLE["kss"]["question"]["en"]),
            ("elo_stress", 2, TABLE["elo_stress"]["question"]["ru"], TABLE["elo_stress"]["question"]["en"])]
        assert (screen["answers"][0]["answer_ru"], screen["answers"][1]["answer_en"]) == ("сонлив, но без усилий",
                                                                                          "only a little")
        kss, elo = screen["results"]["kss"], screen["results"]["elo_stress"]
        assert (kss["score"], kss["band"]["ru"], kss["positive"], kss["cut_off"]) == (7, "сонливость", True, 7)
        assert (elo["score"], elo["band"]["en"], elo["positive"]) == (2, "only a little", False)
        assert "Åkerstedt" in kss["source"] and "Elo" in elo["source"]
        assert (screen["positive"], screen["action"], screen["affects_outcome"]) == (["kss"], "inform_medic", False)
        assert ExamBody.model_validate(exam).fatigue.results["kss"]["score"] == 7  # the contract takes it
        # the hub's model scores the same answers the same way (one definition, one scorer)
        hub = run_model("fatigue-screening", {"answers": {"kss": 7, "elo_stress": 2}})
        assert hub["results"] == screen["results"]

    run_async(scenario(), 30)


async def answer_items_from(k, start: int, values: list[int]) -> list[dict]:
    seen = []
    for i, value in enumerate(values, start=start):
        view = k.workflow.view
        while view.get("screen") != "fatigue" or view.get("index") != i:
            await asyncio.sleep(0.01)
            view = k.workflow.view
        seen.append(view["item"])
        k.workflow.tap("fatigue_answer", {"item": view["item"]["id"], "points": value, "step": k.workflow.taps.step})
    return seen


@pytest.mark.parametrize(("hold", "exam_type", "kss", "outcome"), [
    ("always", "pre_shift", 8, "needs_medic"),
    ("safety_critical", "pre_trip", 8, "needs_medic"),
    ("safety_critical", "pre_shift", 8, "admitted"),  # not a safety-critical exam type: information only
    ("always", "pre_shift", 4, "admitted"),  # below the cut-off: nothing to hold for
])
def test_a_positive_screen_holds_the_worker_only_where_configured(tmp_path, hold, exam_type, kss, outcome):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script()), exam_types=[exam_type],
                         fatigue={"enabled": True, "hold_on_positive": hold}) as k:
            await k.badge_and_survey()
            await answer_items(k, [kss, 1])
            await k.screen("result")
            if outcome == "needs_medic":
                assert "медицинским работником" in k.workflow.view["summary"]["ru"]
        exam = journal_exams(tmp_path)[-1]
        assert exam["outcome"] == outcome
        held = [f for f in exam["fired"] if f["rule"] == "fatigue.positive_screen"]
        assert bool(held) == (outcome == "needs_medic")
        if held:
            assert held[0]["value"] == ["kss"] and "seed 002" in held[0]["source"]
        assert exam["fatigue"]["affects_outcome"] == (outcome == "needs_medic")

    run_async(scenario(), 30)


def test_a_multi_item_instrument_is_asked_item_by_item_and_scored_with_its_subscales(tmp_path):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script()), fatigue={"enabled": True, "instruments": ["phq4"]}) as k:
            await k.badge_and_survey()
            seen = await answer_items(k, [2, 1, 0, 0])
            await k.screen("result")
        assert [item["id"] for item in seen] == ["phq4_1", "phq4_2", "phq4_3", "phq4_4"]
        assert seen[0]["stem"]["ru"] == TABLE["phq4"]["stem"]["ru"]
        exam = journal_exams(tmp_path)[-1]
        phq = exam["fatigue"]["results"]["phq4"]
        assert (phq["score"], phq["gad2"], phq["phq2"], phq["band"]["en"], phq["positive"]) == (3, 3, 0, "mild", True)
        first = exam["fatigue"]["answers"][0]
        assert first["ru"] == f"{TABLE['phq4']['stem']['ru']} {TABLE['phq4']['item_texts'][0]['ru']}"
        assert (first["value"], first["answer_en"]) == (2, "more than half the days")
        assert exam["outcome"] == "admitted"

    run_async(scenario(), 30)


def test_off_by_default_no_screen_and_no_field(tmp_path):
    async def scenario():
        async with kiosk(tmp_path, ScriptedDevices(script())) as k:
            assert k.workflow.settings.fatigue.enabled is False
            await k.badge_and_survey()
            await k.screen("result")
        assert journal_exams(tmp_path)[-1].get("fatigue") is None

    run_async(scenario(), 30)


def test_a_screening_the_kiosk_cannot_ask_is_refused_at_configuration_naming_file_and_key(tmp_path):
    with pytest.raises(ValidationError, match="fatigue_screening.toml: instruments: unknown instrument 'mood'"):
        WorkflowSettings(fatigue={"enabled": True, "instruments": ["mood"]})
    broken = tmp_path / "screening.toml"
    broken.write_text('instruments = ["kss"]\n[kss]\nname = "KSS"\nsource = "x"\nmin = 1\nmax = 9\n'
                      'positive_at_or_above = 7\nbands = [{ from = 1, label = { ru = "а", en = "a" } }]\n'
                      'question = { ru = "в", en = "q" }\nanchors = [{ value = 12, ru = "б", en = "b" }]\n',
                      encoding="utf-8")
    with pytest.raises(ValidationError, match=r"screening.toml: kss.anchors: each anchor needs a value on the scale"):
        WorkflowSettings(fatigue={"enabled": True, "table_path": str(broken)})
    with pytest.raises(ConfigError, match="kss.question: missing"):
        fatigue.check_table({"kss": {k: v for k, v in TABLE["kss"].items() if k != "question"}}, ["kss"], "t.toml")
    WorkflowSettings(fatigue={"enabled": False, "instruments": ["mood"]})  # off: not read at all


def test_the_tap_guard_takes_one_answer_per_item_on_screen():
    guard = TapGuard()
    step = guard.new_screen()
    view = {"screen": "fatigue", "item": {"id": "kss", "scale": [{"value": v} for v in range(1, 10)]}}
    with pytest.raises(TapRefused) as incomplete:
        guard.check("fatigue_answer", {"item": "kss", "step": step}, view)
    assert incomplete.value.status == 422
    with pytest.raises(TapRefused, match="not on screen"):
        guard.check("fatigue_answer", {"item": "kss", "points": 3, "step": step}, {"screen": "survey"})
    guard.check("fatigue_answer", {"item": "kss", "points": 3, "step": step}, view)
    with pytest.raises(TapRefused, match="already answered"):
        guard.check("fatigue_answer", {"item": "kss", "points": 4, "step": step}, view)
