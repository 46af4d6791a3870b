"""A worker walks through the kiosk at 800×480 in English (issue 15, kiosk screen): the
language survives a reload, a double tap and fast repeats never answer the next survey
question (the page debounces, the server refuses a tap for a screen no longer shown), the
shared screen calls them by ticket, never by name, times are durations, the camera takes
the identity photos (Chromium's fake camera) whose hashes travel sealed with the exam. Every
screen is checked for clipping, scrolling, touch targets and Russian text, and screenshotted."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re

import pytest
from playwright.async_api import async_playwright, expect

from edge_agent.roster import DEMO_PIN, demo_sign_in
from tests.kiosk_resume.resume_helpers import journal_exams
from tests.kiosk_ui.kiosk_world import CHROMIUM, IVANOV, Worker, kiosk_world, run_async
from tests.kiosk_ui.screen_helpers import DEBOUNCE_MS, hub_exam, kiosk_page

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium: apt-get install -y chromium")]

CLICK_REPEATS_JS = """async ([label, pauseMs]) => {
  const current = () => [...document.querySelectorAll("#screen button")].find((b) => b.textContent === label);
  for (let i = 0; i < 5; i++) current().click();               // fast repeats on one screen
  await new Promise((r) => setTimeout(r, pauseMs));
  const next = current(); if (next) next.click();              // and a late one, maybe on the next screen
}"""
DOUBLE_POST_JS = """async ([question, step]) => {
  const post = () => fetch("/api/action", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({action: "answer", value: false, question, step})}).then((r) => r.status);
  return Promise.all([post(), post()]);
}"""


async def post_answer(page, **body) -> int:
    response = await page.request.post(page.url + "api/action", data={"action": "answer", "value": True, **body})
    return response.status


def test_a_worker_walks_through_the_kiosk_at_800x480(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, intoxicated=True, brac=[0.45, 0.41], speed=10,
                               alc_time_scale=0.2) as world, async_playwright() as p, \
                kiosk_page(p, world, artifacts_dir, "walk", size=(800, 480)) as s:
            page, wf = s.page, world.workflow
            await s.on("idle")
            await s.tap("English")
            await expect(page.get_by_role("heading")).to_have_text("Hold your badge to the reader")
            await page.reload()  # the chosen language survives a reload
            await s.on("idle")
            await expect(page.get_by_role("heading")).to_have_text("Hold your badge to the reader")
            await s.no_russian("idle")
            await s.shot("idle-en")

            world.present(IVANOV.card)
            await s.on("consent")
            await expect(page.locator("#ticket")).to_have_text("Ticket 1")
            await expect(page.locator("#screen p")).to_contain_text("The kiosk takes your photo")
            await s.no_russian("consent")
            await s.shot("consent-en")
            await s.tap("I agree")
            await s.on("exam_type")
            await s.no_russian("exam type")
            await s.shot("exam-type-en")
            await s.tap("Pre-shift")
            await s.on("survey")
            await expect(page.locator(".step")).to_have_text("Question 1 of 3")
            await s.no_russian("survey")
            await s.shot("survey-en")

            # a double tap on question 1 answers question 1 only
            await page.wait_for_timeout(DEBOUNCE_MS)
            step1 = wf.taps.step
            await page.get_by_role("button", name="Yes", exact=True).dblclick()
            await expect(page.locator(".step")).to_have_text("Question 2 of 3")
            await page.wait_for_timeout(1000)
            await expect(page.locator(".step")).to_have_text("Question 2 of 3")
            assert wf.current.answers == {"slept_enough": True}
            # the server refuses answers not meant for the question on screen
            assert await post_answer(page, question="slept_enough", step=step1) == 409
            assert await post_answer(page, question="feels_unwell", step=step1) == 409
            assert await post_answer(page, question="took_medication", step=wf.taps.step) == 409
            assert await post_answer(page) == 422
            assert wf.current.answers == {"slept_enough": True}

            # fast repeats on question 2, and one more tap 150 ms later: question 3 stays unanswered
            await page.wait_for_timeout(DEBOUNCE_MS)
            await page.evaluate(CLICK_REPEATS_JS, ["No", 150])
            await expect(page.locator(".step")).to_have_text("Question 3 of 3")
            await page.wait_for_timeout(1000)
            await expect(page.locator(".step")).to_have_text("Question 3 of 3")
            assert wf.current.answers == {"slept_enough": True, "feels_unwell": False}

            await page.reload()  # a reload mid-exam: same screen, same language
            await expect(page.locator(".step")).to_have_text("Question 3 of 3")
            # two posts of one tap at once (a double tap the page did not catch): one is taken
            statuses = await page.evaluate(DOUBLE_POST_JS, ["took_medication", wf.taps.step])
            assert sorted(statuses) == [200, 409], statuses
            await s.on("measuring")
            await s.no_russian("measuring")
            await s.shot("measuring-en")

            await s.on("retest_wait", 30_000)
            await expect(page.locator("#countdown")).to_have_text("in 15 min")
            await expect(page.locator("#window")).to_have_text(re.compile(r"^It must be done by \d\d:\d\d$"))
            await s.no_russian("re-test countdown")
            await s.shot("retest-en")
            await s.tap("OK")
            await s.on("idle")
            await expect(page.locator(".wait")).to_have_text("Талон 1 через 15 мин")  # the next worker's language
            await s.tap("English")
            await expect(page.locator(".wait")).to_have_text("Ticket 1 in 15 min")
            await s.no_russian("idle with a waiting worker")
            await s.shot("idle-waiting-en")

            world.clock.advance(15 * 60 + 1)
            await expect(page.locator(".notice.call")).to_have_text(
                "Ticket 1: please come back to the kiosk for the re-test.")
            await s.shot("called-back-en")
            world.present(IVANOV.card)
            await s.on("measuring")
            await expect(page.locator(".card")).to_have_count(1)
            await s.on("result", 30_000)
            await expect(page.locator("#outcome")).to_have_text("Not admitted")
            await expect(page.locator("ul.reasons")).to_contain_text("0.410")
            await s.no_russian("result")
            await s.shot("result-en")
            assert "Иванов" not in await s.text() and IVANOV.number not in await s.text()

            exam = await hub_exam(world)
            assert exam["outcome"] == "not_admitted" and exam["ticket"] == 1 and exam["_chain_status"] == "ok"
            assert exam["answers"] == {"slept_enough": True, "feels_unwell": False, "took_medication": False}
            assert exam["consent"]["text_version"] == "2026-1+photo"  # the text that named the photo
            photos = exam["identity_photos"]
            assert [(ph["stage"], ph["attempt"]) for ph in photos] == [
                ("identification", 1), ("breath", 1), ("identification", 2), ("breath", 2)], photos
            for ph in photos:
                data = base64.b64decode(ph["jpeg_b64"])
                assert data[:3] == b"\xff\xd8\xff" and hashlib.sha256(data).hexdigest() == ph["sha256"]
                assert len(data) <= wf.settings.photo.max_bytes
            # the photo hashes are in the record the kiosk sealed in its evidence chain (and the hub
            # verified that chain: _chain_status ok above)
            sealed = journal_exams(tmp_path / "kiosk")[-1]
            assert sealed["chain"]["hash"] == exam["chain"]["hash"]
            assert [ph["sha256"] for ph in sealed["identity_photos"]] == [ph["sha256"] for ph in photos]

    run_async(scenario(), timeout=150)


def test_sign_in_with_a_roster_number_attempts_left_and_the_lock(tmp_path, broker, artifacts_dir):
    demo = Worker("W00001", "Кузнецов Алексей Иванович", 1234567, pin=DEMO_PIN)
    other = Worker("W00002", "Попова Елена Сергеевна", 2345678, pin="4321", sex="F")

    async def scenario():
        async with kiosk_world(tmp_path, broker, workers=[demo, other], hub=False,
                               workflow={"pin_attempts": 3, "photo": {"enabled": False}}) as world, \
                async_playwright() as p, kiosk_page(p, world, artifacts_dir, "sign-in", size=(800, 480)) as s:
            page = s.page
            assert await asyncio.to_thread(demo_sign_in, world.runtime.roster) == ("W00001", DEMO_PIN)
            await s.tap("English")
            await s.tap("No badge? Sign in with your personnel number")
            await s.on("pin")
            await expect(page.locator(".keypad button.prefix")).to_have_text(["W"])  # the roster's format
            await s.no_russian("sign-in")
            await s.shot("pin-en")

            async def sign_in(number: str, pin: str) -> None:
                await page.locator("#f-number").click()
                for _ in range(8):
                    await s.tap("Erase")
                for key in number:
                    await s.tap(key)
                await page.locator("#f-pin").click()
                for _ in range(8):
                    await s.tap("Erase")
                for key in pin:
                    await s.tap(key)
                await expect(page.locator("#f-number")).to_have_text(number)
                await page.wait_for_timeout(DEBOUNCE_MS)
                await s.tap("Sign in")

            for left in (2, 1):
                await sign_in("W00002", "1111")
                await expect(page.locator("#attempts-left")).to_have_text(f"Attempts left before the lock: {left}")
                await expect(page.get_by_role("alert")).to_have_text("Wrong PIN. Please try again.")
            await s.no_russian("wrong PIN")
            await s.shot("pin-wrong-en")
            await sign_in("W00002", "1111")
            await s.on("message")
            await expect(page.get_by_role("alert")).to_have_text(
                "Too many wrong PINs. Sign-in is locked for 15 min. Please tell the attendant.")
            await s.no_russian("PIN locked")
            await s.shot("pin-locked-en")
            await s.tap("OK")
            await s.on("idle")
            await s.tap("English")  # the next worker starts in the kiosk's language again
            await page.wait_for_timeout(DEBOUNCE_MS)
            await s.tap("No badge? Sign in with your personnel number")
            await sign_in(*demo_sign_in(world.runtime.roster))
            await s.on("consent")
            await expect(page.locator("#ticket")).to_have_text("Ticket 1")
            await expect(page.locator("#screen p")).not_to_contain_text("photo")
            assert world.workflow.snapshot()["view"]["photo"] is None  # configured off
            assert world.workflow.snapshot()["photo_width_px"] is None
            assert "Кузнецов" not in await s.text()

    run_async(scenario(), timeout=120)
