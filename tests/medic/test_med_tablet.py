"""The medic tablet in real headless Chromium: kiosk -> mosquitto -> hub -> page -> decision -> kiosk cmd.

A needs_medic exam (K7, 184/112, decided by the kiosk's real rules) is recorded by a real
KioskAgent, reaches the hub through a real mosquitto, shows up in the queue on the page;
the medic opens it, reads the values with units and the rule's reason, and decides. The
decision is stored, audited, and the kiosk receives the ``medic_decision`` command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from edge_agent.agent import KioskAgent
from hub.service import HubService
from tests.foundation.helpers import hub_config, kiosk_config, wait_until
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, api_section, auth, normal, put_exams, severe_bp
from tests.medic.test_med_delivery import Commands

CHROMIUM = "/usr/bin/chromium"
#: A valid 1x1 JPEG (what the kiosk camera sends, only smaller).
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////"
    "////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the page test needs a real browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def system(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    commands = Commands()
    agent = KioskAgent(kiosk_config(tmp_path, broker))
    agent.uplink.on_command = commands
    agent.start()
    yield hub, agent, commands
    agent.stop()
    hub.stop()
    assert not [t for t in threading.enumerate() if t.name == "medic-publisher"], "the publisher outlived the hub"


def test_medic_decides_on_the_tablet_and_the_kiosk_gets_the_command(system, browser, artifacts_dir):
    hub, agent, commands = system
    agent.record("exam", normal("W00500"))  # admitted: never in the queue
    exam = agent.record("exam", severe_bp("W00501"))
    wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") == 2, message="both exams at the hub")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{hub.url}/medic")
    page.locator("#login").wait_for(state="visible")
    assert page.locator("html").get_attribute("lang") == "ru"

    # an OHS token is refused by the page, and nothing medical is shown
    page.fill("#token", OHS)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('не принадлежит медицинскому работнику')")
    assert page.locator("#app").is_hidden()

    page.fill("#token", MEDIC)
    page.click("#login-form button[type=submit]")
    card = page.locator(f"#queue button[data-event-id='{exam.event_id}']")
    card.wait_for()
    assert page.locator("#queue button").count() == 1
    assert page.locator("#queue-count").inner_text() == "1"
    assert "bp.severe" in card.inner_text() and "W00501" in card.inner_text()
    assert page.evaluate("sessionStorage.getItem('medicToken')") == MEDIC

    card.click()
    row = page.locator("#readings tr[data-field='systolic_mmhg']")
    row.wait_for()
    assert "184" in row.inner_text() and "мм рт. ст." in row.inner_text()
    assert "0,000" in page.locator("#readings tr[data-field='brac_mg_l']").inner_text()
    fired = page.locator("#fired li[data-rule='bp.severe']")
    assert "Очень высокое артериальное давление: 184/112" in fired.inner_text()
    assert "reference.md §1.4" in fired.inner_text()
    assert not page.locator("#notify").is_checked()  # no intoxication finding
    page.screenshot(path=str(artifacts_dir / "medic_tablet_exam_ru.png"), full_page=True)

    page.click("[data-lang=en]")
    page.wait_for_selector("#readings tr[data-field='systolic_mmhg'] >> text=mmHg")
    assert "Very high blood pressure: 184/112 mmHg" in fired.inner_text()
    assert page.locator("#refuse").inner_text() == "Do not admit"

    page.fill("#reason", "BP 184/112 confirmed manually; referred to the therapist")
    page.fill("#referral", "Poliklinika 3, therapist")
    page.click("#refuse")
    page.wait_for_selector("#decision-result.ok")
    assert page.locator("#decision-result").inner_text() == "Decision saved and sent to the kiosk."
    page.wait_for_selector("#queue-empty:visible")
    assert page.locator("#queue-count").inner_text() == "0"
    assert "in force" in page.locator("#earlier-list").inner_text()
    page.screenshot(path=str(artifacts_dir / "medic_tablet_decided_en.png"), full_page=True)

    (decision,) = hub.store.query("SELECT * FROM medic_decisions")
    assert decision["event_id"] == exam.event_id and decision["decision"] == "not_admitted"
    assert decision["medic"] == "Петрова А. В., фельдшер" and decision["published_at"]
    assert decision["reason"].startswith("BP 184/112") and decision["referral"] == "Poliklinika 3, therapist"
    actions = [(r["action"], r["actor"]) for r in hub.store.query("SELECT action, actor FROM audit_log ORDER BY id")]
    assert ("read_exam", "Петрова А. В., фельдшер") in actions
    assert ("medic_decision", "Петрова А. В., фельдшер") in actions

    wait_until(lambda: decision["decision_id"] in commands.ids(), message="the kiosk to receive medic_decision")
    command = commands.items[0]
    assert command.type == "medic_decision" and command.args["event_id"] == exam.event_id
    assert command.args["decision"] == "not_admitted" and command.args["worker_id"] == "W00501"

    # the history tab lists the decision; the token survives a reload of this tab only
    page.reload()
    page.locator("#app").wait_for(state="visible")
    page.click("[data-tab=history]")
    page.click(f"#history button[data-event-id='{exam.event_id}']")
    page.wait_for_selector("#decide-title:has-text('Correct the decision')")

    # a correction without a reason is refused on the page; with one it supersedes, both kept
    page.click("#admit")
    page.wait_for_selector("#decision-result.error")
    assert "Give a reason" in page.locator("#decision-result").inner_text()
    page.fill("#reason", "re-measured 136/84 after 20 min rest")
    page.click("#admit")
    page.wait_for_selector("#decision-result.ok")
    first, second = hub.store.query("SELECT * FROM medic_decisions ORDER BY id")
    assert (second["decision"], second["supersedes"]) == ("admitted", first["decision_id"])
    wait_until(lambda: commands.ids() == [first["decision_id"], second["decision_id"]],
               message="the kiosk to receive the correction")
    assert commands.items[1].args["supersedes"] == first["decision_id"]
    assert page.locator("#earlier-list li").count() == 2
    page.click("#logout")
    page.locator("#login").wait_for(state="visible")
    assert page.evaluate("sessionStorage.getItem('medicToken')") is None
    assert errors == [], errors
    page.close()
    (artifacts_dir / "medic_tablet_decision.json").write_text(
        json.dumps({k: decision[k] for k in ("decision_id", "decision", "medic", "published_at")}, ensure_ascii=False))


def test_medic_signs_with_a_pin_and_sees_the_workers_history(system, browser, artifacts_dir):
    hub, agent, commands = system
    for days_ago in (30, 12, 3):  # earlier exams of the same worker: the history charts
        agent.record("exam", severe_bp("W00601", finished=datetime.now(timezone.utc) - timedelta(days=days_ago)))
    body = severe_bp("W00601")
    body["worker"] = {"personnel_number": "W00601", "full_name": "Иванов Пётр Сергеевич", "birth_date": "1980-06-15",
                      "sex": "M"}
    body["survey"] = [{"id": "feels_unwell", "ru": "Чувствуете ли вы недомогание?", "en": "Do you feel unwell?",
                       "answer": True, "complaint": True}]
    body["identity_photos"] = [{"stage": "identification", "attempt": 1, "taken_at": body["started_at"],
                                "sha256": hashlib.sha256(TINY_JPEG).hexdigest(),
                                "jpeg_b64": base64.b64encode(TINY_JPEG).decode()}]
    exam = agent.record("exam", body)
    wait_until(lambda: hub.store.scalar("SELECT count(*) FROM exams") == 4, message="the exams at the hub")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{hub.url}/medic")
    page.fill("#token", MEDIC)
    page.click("#login-form button[type=submit]")
    page.locator("#app").wait_for(state="visible")

    page.click("[data-tab=signing]")
    page.wait_for_selector("#key-state:has-text('Ключ подписи не создан')")
    page.fill("#new-pin", "246810")
    page.fill("#new-pin2", "246811")
    page.click("#enrol")
    page.wait_for_selector("#enrol-result.error:has-text('не совпадают')")
    page.fill("#new-pin", "246810")
    page.fill("#new-pin2", "246810")
    page.click("#enrol")
    page.wait_for_selector("#enrol-result.ok")
    assert "создан" in page.inner_text("#key-state")
    page.screenshot(path=str(artifacts_dir / "medic_tablet_signing_ru.png"), full_page=True)

    page.click("[data-tab=queue]")
    page.click(f"#queue button[data-event-id='{exam.event_id}']")
    page.wait_for_selector("#chart-bp canvas")
    assert "Чувствуете ли вы недомогание? — да (жалоба)" in page.inner_text("#answers"), "questions as asked"
    assert page.locator("#photo-list img").count() == 1 and "при идентификации" in page.inner_text("#photo-list")
    assert "Иванов Пётр Сергеевич" in page.inner_text("#worker-identity"), "identity from the exam record"
    assert page.locator("#chart-temp canvas").count() == 1 and page.locator("#chart-alcohol canvas").count() == 1
    page.fill("#reason", "184/112 подтверждено, направлен к терапевту")
    page.click("#refuse")
    page.wait_for_selector("#decision-result.error:has-text('Введите PIN')")
    page.fill("#pin", "111111")
    page.click("#refuse")
    page.wait_for_selector("#decision-result.error:has-text('осталось попыток 4')")
    page.fill("#pin", "246810")
    page.click("#refuse")
    page.wait_for_selector("#decision-result.ok")
    page.wait_for_selector("#earlier-list .sig-valid")
    assert "Петрова" in page.inner_text("#earlier-list .sig-valid")
    page.screenshot(path=str(artifacts_dir / "medic_tablet_signed_ru.png"), full_page=True)

    (decision,) = hub.store.query("SELECT * FROM medic_decisions")
    wait_until(lambda: decision["decision_id"] in commands.ids(), message="the signed decision at the kiosk")
    assert commands.items[-1].args["signature"]["signer"] == "Петрова А. В., фельдшер"
    page.click("[data-tab=history]")
    page.wait_for_selector(f"#history button[data-event-id='{exam.event_id}'] .sig-valid")

    # the worker card: identity from the hub's registry, a norm proposed from history and approved
    assert "в реестре хаба нет" in page.inner_text("#worker-identity")
    ohs_view = httpx.get(f"{hub.url}/api/v1/exams/{exam.event_id}", headers=auth(OHS)).json()
    assert "identity_photos" not in ohs_view and "jpeg" not in str(ohs_view), "photos are for the medic only"
    httpx.put(hub.url + "/api/v1/workers", headers=auth(ADMIN), json={"workers": [
        {"personnel_number": "W00601", "site": "plant-1", "full_name": "Иванов Пётр Сергеевич",
         "birth_date": "1980-06-15", "sex": "M"}]}).raise_for_status()
    put_exams(hub.store, [normal("W00601", finished=datetime.now(timezone.utc) - timedelta(days=20 - i))
                          for i in range(10)], kiosk="kiosk-09")
    page.click(f"#history button[data-event-id='{exam.event_id}']")
    page.wait_for_selector("#worker-norm:has-text('не утверждена')")  # the registry's card, not the exam's block
    assert "лет, муж." in page.inner_text("#worker-identity") and "по записи" not in page.inner_text("#worker-identity")
    page.click("#propose-norm")
    page.wait_for_selector("#norm-result:has-text('Предложено: АД 128/82')")
    page.click("#approve-norm")
    page.wait_for_selector("#norm-result.ok")
    assert "утвердил(а) Петрова" in page.inner_text("#worker-norm")
    page.wait_for_selector("#chart-bp .legend:has-text('норма 128')")

    # the risk group (seed 004): the proposal per criterion, changed with a reason, the plan of the group
    created = httpx.post(hub.url + "/api/v1/risk-groups/W00601/assessments", headers=auth(MEDIC),
                         json={"criteria": {"c1": 3, "c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False,
                                            "c8": False}})
    assert created.status_code == 201, created.text
    page.click(f"#history button[data-event-id='{exam.event_id}']")
    card = page.locator(f".risk-card[data-assessment-id='{created.json()['id']}']")
    card.wait_for()
    assert "ждёт решения врача" in card.inner_text() and "C1: 3" in card.inner_text()
    assert "осмотр врачами-специалистами" in card.inner_text(), "the plan in seed 004's own words"
    card.locator("select.override-group").select_option("4")
    card.locator("input.override-reason").fill("стаж 22 года во вредных условиях")
    card.locator("button.override").click()
    page.wait_for_selector(".risk-status.overridden:has-text('изменена на 4')")
    assert "центре профпатологии" in page.inner_text(".risk-card"), "the plan follows the physician's group"
    page.screenshot(path=str(artifacts_dir / "medic_tablet_worker_norm_ru.png"), full_page=True)
    assert errors == [], errors
    outside = [url for url in requested if not url.startswith(hub.url)]
    assert outside == [], f"the tablet must load nothing from outside the hub: {outside}"
