"""The medic tablet in real headless Chromium shows the fatigue / stress screening (issue 13): each
instrument's score, band, cut-off and citation, the items as the worker saw them with the answers,
whether it changed the outcome, and the worker card's screening history."""

from __future__ import annotations

import pytest

from tests.foundation.helpers import wait_until
from tests.medic.medic_helpers import MEDIC, severe_bp
from tests.medic.test_med_fatigue import screened_exam
from tests.medic.test_med_tablet import browser, system  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_the_tablet_shows_the_screening_on_the_exam_and_the_worker_card(system, browser, artifacts_dir):  # noqa: F811
    hub, agent, _ = system
    agent.record("exam", screened_exam("W00902"))  # admitted earlier: in the worker's history
    body = severe_bp("W00902")
    body["fatigue"] = screened_exam("W00902")["fatigue"]
    exam = agent.record("exam", body)
    wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") == 2, message="the exams at the hub")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{hub.url}/medic")
    page.fill("#token", MEDIC)
    page.click("#login-form button[type=submit]")
    page.click(f"#queue button[data-event-id='{exam.event_id}']")
    kss = page.locator("#fatigue-results li[data-instrument='kss']")
    kss.wait_for()
    assert "Karolinska Sleepiness Scale: 8 — сонливость" in kss.inner_text()
    assert "порог ≥ 7" in kss.inner_text() and "положительный скрининг" in kss.inner_text()
    assert "Åkerstedt" in kss.inner_text()
    answers = page.locator("#fatigue-answers li[data-item='kss']").inner_text()
    assert answers.startswith("Оцените, насколько вы сонливы") and "— 8" in answers
    assert "на решение киоска не влиял" in page.inner_text("#fatigue-note")
    page.wait_for_selector("#worker-fatigue-list li")
    assert page.locator("#worker-fatigue-list > li").count() == 2
    assert "выраженный стресс" in page.inner_text("#worker-fatigue-list")
    page.screenshot(path=str(artifacts_dir / "medic_tablet_fatigue_ru.png"), full_page=True)
    page.click("[data-lang=en]")
    page.wait_for_selector("#fatigue-results li[data-instrument='kss']:has-text('sleepy')")
    assert "How sleepy are you right now" in page.inner_text("#fatigue-answers")
    assert errors == [], errors
    page.close()
