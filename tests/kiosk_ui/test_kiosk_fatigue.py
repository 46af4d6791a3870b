"""The optional fatigue / stress screening screen (issue 13, seed 002 B.3.3.5) in headless Chromium
against the real kiosk runtime (simulated devices, real mosquitto, the hub in-process): every
instrument of the table asked one item per screen, each screen fitting 800×480 and 1280×800 with
touch targets ≥ 48 px (screenshots in the artifacts directory), Russian first with the English
switch, a double tap answering one item only, and the answers, scores and bands in the sealed exam
record (the hub's side of the field: tests/medic/test_med_fatigue.py)."""

from __future__ import annotations

import os

import pytest
from playwright.async_api import async_playwright, expect

from tests.kiosk_resume.resume_helpers import journal_exams
from tests.kiosk_ui.kiosk_world import CHROMIUM, IVANOV, kiosk_world, run_async
from tests.kiosk_ui.screen_helpers import kiosk_page

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium: apt-get install -y chromium")]

ALL = ["kss", "samn_perelli", "elo_stress", "phq4"]
#: Per item on screen: the button tapped (the answer's value).
ANSWERS = {"kss": 7, "samn_perelli": 3, "elo_stress": 2, "phq4_1": 2, "phq4_2": 1, "phq4_3": 0, "phq4_4": 0}


def test_the_screening_screens_fit_the_kiosk_and_the_answers_are_recorded(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, consent=True, speed=10, alc_time_scale=0.2,
                               workflow={"exam_types": ["pre_shift"], "fatigue": {"enabled": True, "instruments": ALL}}
                               ) as world, async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "fatigue", size=(800, 480)) as s:
                page = s.page
                world.present(IVANOV.card)
                await s.answer_survey(["Да", "Нет", "Нет"])
                await s.on("fatigue")
                item = page.locator("h1.item")
                await expect(item).to_have_attribute("data-item", "kss")
                await expect(page.locator("#screen .step").first).to_contain_text("Утомление и стресс · Вопрос 1 из 7")
                await expect(page.locator("button.point")).to_have_count(9)
                await expect(page.locator(".scale .anchor").nth(6)).to_have_text("сонлив, но без усилий")
                await expect(page.get_by_text("Ответы увидит только медицинский работник.")).to_be_visible()
                await s.shot("kss-ru")
                await s.tap("English")
                await expect(page.locator(".scale .anchor").first).to_have_text("extremely alert")
                await s.no_russian("fatigue")
                await s.shot("kss-en")
                await s.tap("Русский")
                await expect(page.locator(".scale .anchor").first).to_have_text("очень бодр")
                # a double tap answers the item on screen only; the next item waits for its own tap
                await page.wait_for_timeout(400)
                await page.get_by_role("button", name="7", exact=True).dblclick()
                await expect(item).to_have_attribute("data-item", "samn_perelli")
                await page.wait_for_timeout(700)
                await expect(item).to_have_attribute("data-item", "samn_perelli")
                await s.shot("samn-perelli")
                for key in ("samn_perelli", "elo_stress", "phq4_1", "phq4_2", "phq4_3", "phq4_4"):
                    await expect(item).to_have_attribute("data-item", key)
                    if key in ("elo_stress", "phq4_1"):
                        await s.shot(key.replace("_", "-"))
                    await s.tap(str(ANSWERS[key]))
                await s.on("result", 30_000)
                await expect(page.locator("#outcome")).to_have_text("Допущен")  # information for the medic only
        exam = journal_exams(tmp_path / "kiosk")[-1]
        screen = exam["fatigue"]
        assert {a["item"]: a["value"] for a in screen["answers"]} == ANSWERS
        assert screen["instruments"] == ALL
        results = screen["results"]
        assert (results["kss"]["score"], results["kss"]["positive"]) == (7, True)
        assert (results["samn_perelli"]["score"], results["samn_perelli"]["positive"]) == (3, False)
        assert (results["elo_stress"]["score"], results["elo_stress"]["band"]["en"]) == (2, "only a little")
        assert (results["phq4"]["score"], results["phq4"]["gad2"], results["phq4"]["positive"]) == (3, 3, True)
        assert screen["positive"] == ["kss", "phq4"] and screen["action"] == "inform_medic"
        assert exam["outcome"] == "admitted" and exam["chain"]["hash"]  # sealed with the exam

    run_async(scenario(), 120)
