"""Browser tests of the kiosk screen: headless Debian Chromium (Playwright) against the real
kiosk runtime with simulated devices (BLE on bumble, serial on ptys), a real mosquitto and
the hub in-process. Screenshots (800×480 and 1280×800) go to the artifacts directory."""

from __future__ import annotations

import asyncio
import json
import os
import re

import pytest
from playwright.async_api import async_playwright, expect

from simulators.serial.faults import FaultPlan
from tests.kiosk_ui.kiosk_world import CHROMIUM, IVANOV, PETROV, kiosk_world, restart_alcotester, run_async
from tests.kiosk_ui.screen_helpers import hub_exam, kiosk_page, slip_text

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium: apt-get install -y chromium")]

def test_healthy_worker_is_admitted(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, speed=10, alc_time_scale=0.2) as world, async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "admitted") as s:
                page = s.page
                await s.on("idle")
                await expect(page.get_by_role("heading")).to_have_text("Приложите пропуск к считывателю")
                await s.shot("idle-ru")
                await s.tap("English")
                await expect(page.get_by_role("heading")).to_have_text("Hold your badge to the reader")
                await s.shot("idle-en")
                await s.tap("Русский")
                world.present(IVANOV.card)
                await s.on("consent")
                await expect(page.locator("#ticket")).to_have_text("Талон 1")  # a ticket, never the name
                await s.shot("consent")
                await s.tap("Согласен")
                await s.on("exam_type")
                await s.shot("exam-type")
                await s.tap("Предсменный")
                await s.on("survey")
                await s.shot("survey")
                await s.answer_survey(["Да", "Нет", "Нет"])
                await s.on("measuring")
                await expect(page.locator(".card")).to_have_count(4)
                await s.shot("measuring")
                await s.on("result")
                await expect(page.locator("#outcome")).to_have_text("Допущен")
                await expect(page.get_by_text("Талон напечатан")).to_be_visible()
                await s.shot("result")
                text = slip_text(world)
                for part in ("ДОПУЩЕН", "Иванов Иван Петрович", "T-1001", "Осмотр: предсменный", "plant-1/gate-1"):
                    assert part in text, f"{part!r} not on the slip:\n{text}"
                assert re.search(r"Дата: \d\d\.\d\d\.\d{4}  Время: \d\d:\d\d", text)
                exam = await hub_exam(world)
                assert exam["outcome"] == "admitted" and exam["worker_id"] == "T-1001"
                assert exam["consent"]["given_at"] and world.runtime.roster.by_number("T-1001")["consent_given_at"]
                assert {m["field"] for m in exam["measurements"]} == {
                    "systolic_mmhg", "diastolic_mmhg", "pulse_bpm", "temperature_c", "spo2_percent", "brac_mg_l"}
                assert all(m["device_serial"] and m["device_verified_until"] for m in exam["measurements"])
                assert exam["answers"] == {"slept_enough": True, "feels_unwell": False, "took_medication": False}
                assert exam["_chain_status"] == "ok", exam["_chain_status"]

    run_async(scenario())


def test_intoxicated_worker_is_refused_after_the_confirmation_test(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, intoxicated=True, brac=[0.45, 0.41], consent=True,
                               workers=[IVANOV, PETROV]) as world, async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "intoxicated") as s:
                page = s.page
                world.present(IVANOV.card)
                await s.on("exam_type")
                await s.tap("Предсменный")
                await s.answer_survey(["Да", "Нет", "Нет"])
                await s.on("retest_wait", 30_000)
                await expect(page.locator("#countdown")).to_have_text("через 15 мин")  # a duration, not 15:00
                await s.shot("retest-countdown")
                await s.tap("Понятно")
                await s.on("idle")
                await expect(page.locator(".wait")).to_contain_text("Талон 1 через 15 мин")
                await expect(page.locator("footer")).not_to_contain_text("Иванов")
                # too early: the kiosk refuses to run the confirmation and shows the countdown
                world.clock.advance(5 * 60)
                world.present(IVANOV.card)
                await s.on("retest_wait")
                await expect(page.get_by_text("Ещё рано")).to_be_visible()
                await expect(page.locator("#countdown")).to_have_text("через 10 мин")
                await s.tap("Понятно")
                world.clock.advance(10 * 60 + 1)
                await expect(page.locator(".notice.call")).to_contain_text("Талон 1: подойдите к киоску")
                await s.shot("called-back")
                world.present(IVANOV.card)
                await s.on("result", 30_000)
                await expect(page.locator("#outcome")).to_have_text("Не допущен")
                await expect(page.locator("ul.reasons")).to_contain_text("0,410")
                await expect(page.get_by_text("работодатель", exact=False)).to_be_visible()
                await s.shot("result")
                text = slip_text(world)
                assert "НЕ ДОПУЩЕН" in text and "Причины:" in text and "Иванов Иван Петрович" in text
                exam = await hub_exam(world)
                assert exam["outcome"] == "not_admitted" and exam["notify_employer"] is True
                alcohol = [m for m in exam["measurements"] if m["field"] == "brac_mg_l"]
                assert [m["value"] for m in alcohol] == [0.45, 0.41] and [m["attempt"] for m in alcohol] == [1, 2]
                assert [a["minute"] >= 15 for a in exam["attempts"]] == [False, True]
                assert any(f["rule"] == "alcohol" and f["effect"] == "not_admitted" for f in exam["fired"])
                assert any("0,410" in r["ru"] for r in exam["reasons"])
                assert exam["_chain_status"] == "ok"

    run_async(scenario())


def test_blood_pressure_out_of_range_is_retested_then_goes_to_the_medic(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, cuff=[(152, 96, 80), (150, 94, 78), (148, 92, 77)],
                               consent=True, speed=8, workflow={"exam_types": ["pre_trip"], "default_exam_type": "pre_trip"}
                               ) as world, async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "bp-retest") as s:
                page = s.page
                world.present(IVANOV.card)
                await s.answer_survey(["Да", "Нет", "Нет"])
                for round_no in (1, 2):
                    await s.on("retest_wait", 30_000)
                    await expect(page.locator("#countdown")).to_have_text("через 20 мин")
                    if round_no == 1:
                        await s.shot("retest-countdown")
                    await s.tap("Понятно")
                    world.clock.advance(20 * 60 + 1)
                    await expect(page.locator(".wait.called")).to_be_visible()
                    world.present(IVANOV.card)
                    await s.on("measuring")
                    await expect(page.locator(".card")).to_have_count(1)  # only the cuff is re-measured
                    if round_no == 1:
                        await s.shot("retest-measuring")
                await s.on("result", 30_000)
                await expect(page.locator("#outcome")).to_have_text("Ожидайте медика")
                await s.shot("result")
                exam = await hub_exam(world)
                assert exam["outcome"] == "needs_medic" and exam["exam_type"] == "pre_trip"
                systolic = [m["value"] for m in exam["measurements"] if m["field"] == "systolic_mmhg"]
                assert systolic == [152, 150, 148]
                minutes = [a["minute"] for a in exam["attempts"]]
                assert minutes[1] - minutes[0] >= 20 and minutes[2] - minutes[1] >= 20
                assert any(f["rule"] == "bp.high" and f["effect"] == "needs_medic" for f in exam["fired"])
                assert exam["reasons"] and exam["_chain_status"] == "ok"
                assert "ОЖИДАЕТ РЕШЕНИЯ МЕДИКА" in slip_text(world)

    run_async(scenario())


def test_a_device_failing_mid_exam_is_explained_and_remeasured(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, consent=True,
                               workflow={"exam_types": ["pre_shift"], "remeasure_pause_s": 2.5}) as world, \
                async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "device-fault") as s:
                page = s.page
                # the breathalyzer's cable is pulled in the middle of the blow
                world.alcotester.faults = FaultPlan(frozenset({"disconnect"}), after=2)
                world.present(IVANOV.card)
                await s.answer_survey(["Да", "Нет", "Нет"])
                await s.on("measuring")
                await world.wait_screen("remeasure", 30)
                restart_alcotester(world)  # plugged back in
                await s.on("remeasure")
                await expect(page.locator("h1")).to_have_text("Повторное измерение")
                await expect(page.locator(".error-text")).to_contain_text("Алкотестер отключился")
                await s.shot("device-error")
                await s.on("result", 30_000)
                await expect(page.locator("#outcome")).to_have_text("Допущен")
                exam = await hub_exam(world)
                assert exam["outcome"] == "admitted"
                alcohol = [m for m in exam["measurements"] if m["field"] == "brac_mg_l"]
                assert alcohol[0]["value"] is None and alcohol[0]["invalid_reason"].startswith("device_error:")
                assert alcohol[1]["value"] == 0.0 and alcohol[1]["attempt"] == 2
                assert any(f["rule"] == "plausibility.alcohol" and f["effect"] == "remeasure" for f in exam["fired"])
                assert exam["_chain_status"] == "ok"

    run_async(scenario())


def test_unknown_badge_then_sign_in_by_personnel_number(tmp_path, broker, artifacts_dir):
    async def scenario():
        async with kiosk_world(tmp_path, broker, consent=True) as world, async_playwright() as p:
            async with kiosk_page(p, world, artifacts_dir, "unknown-badge") as s:
                page = s.page
                world.present(99887766)
                await s.on("message")
                await expect(page.get_by_role("alert")).to_contain_text("Пропуск не найден")
                await s.shot("message")
                await s.tap("Понятно")
                await s.on("idle")
                await s.tap("Нет пропуска? Войти по табельному номером".replace("номером", "номеру"))
                await s.on("pin")
                for key in ("T-", "1", "0", "0", "1"):
                    await s.tap(key)
                await page.locator("#f-pin").click()
                for key in "9999":
                    await s.tap(key)
                await s.shot("pin")
                await s.tap("Войти")
                await expect(page.get_by_role("alert")).to_have_text("Неверный ПИН-код. Попробуйте ещё раз.")
                await expect(page.locator("#attempts-left")).to_have_text("Осталось попыток до блокировки: 4")
                await s.shot("pin-wrong")
                for _ in range(4):
                    await s.tap("Стереть")
                for key in IVANOV.pin:
                    await s.tap(key)
                await s.tap("Войти")
                await s.on("exam_type")
                await expect(page.locator("#ticket")).to_contain_text("Талон")
                await s.tap("Отмена") if await page.get_by_role("button", name="Отмена").count() else None
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while not world.hub.store.query("SELECT type FROM events WHERE type = 'unknown_badge'"):
                    assert loop.time() < deadline, "the unknown badge event did not reach the hub"
                    await asyncio.sleep(0.1)
                event = json.loads(world.hub.store.query("SELECT body FROM events WHERE type = 'unknown_badge'")[0]["body"])
                assert event["details"]["card_id"] == "0099887766"

    run_async(scenario())
