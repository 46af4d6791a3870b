"""The OHS dashboard in a real headless Chromium, fed through MQTT by a real kiosk agent.

An OHS user signs in with a token, walks every tab (charts, the journal with the final outcome,
filters and CSV export, noise, epidemiology, risk groups, fleet) and acknowledges and clears an
alarm. Nothing is requested outside the hub; no measured value appears on any page.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from playwright.sync_api import sync_playwright

from edge_agent.agent import KioskAgent
from hub.analytics.runner import runner_for
from hub.service import HubService
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until
from tests.hub_web.test_risk_register import NOISE
from tests.medic.medic_helpers import MEDIC, OHS, TOKENS, auth

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]
TABS = ("overview", "journal", "environment", "epi", "risk", "fleet", "alarms")
#: Measured values the kiosk sent (exam_body, the noise telemetry): none may show on an OHS page.
MEDICAL = ("128", "0.21", "0,21", "36.6", "36,6", "82 ")


def _exam(worker: str, outcome: str, days_ago: int) -> dict:
    body = exam_body(worker, outcome)
    finished = datetime.now(timezone.utc).replace(hour=6, minute=30, second=0, microsecond=0) - timedelta(days=days_ago)
    body.update(exam_id=str(uuid.uuid4()), started_at=(finished - timedelta(minutes=2)).isoformat(),
                finished_at=finished.isoformat())
    for m in body["measurements"]:
        m["taken_at"] = finished.isoformat()
    return body


def _noise(zone: str, day: datetime, level: float) -> dict:
    start = day.replace(hour=8, minute=0, second=0, microsecond=0)
    return {"readings": [{"sensor_id": f"noise-{zone}", "zone": zone, "ts": (start + timedelta(minutes=10 * i)).isoformat(),
                          "values": {"noise_dba": level + (i % 3)}} for i in range(12)]}


@pytest.fixture
def fed_hub(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, tokens=TOKENS)).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    try:
        outcomes = ["admitted"] * 6 + ["not_admitted", "needs_medic"]
        for day in range(4):
            for i, outcome in enumerate(outcomes):
                kiosk.record("exam", _exam(f"W{100 + 10 * day + i:05d}", outcome, days_ago=day))
        today = datetime.now(timezone.utc)
        for day in range(3):
            kiosk.record("telemetry", _noise("shop-1", today - timedelta(days=day), 91.0))
            kiosk.record("telemetry", _noise("office", today - timedelta(days=day), 55.0))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="records at the hub")
        runner_for(hub.store).run_once()  # the analyses and their alarms, as the background runner does
        added = httpx.post(hub.url + "/api/v1/risk-register", json={"site": "plant-1", "row": NOISE}, headers=auth(OHS))
        assert added.status_code == 201, added.text
        yield hub
    finally:
        kiosk.stop()
        hub.stop()


def _held_exam(hub) -> str:
    listing = httpx.get(hub.url + "/api/v1/exams", params={"outcome": "needs_medic", "limit": 1}, headers=auth(OHS))
    return listing.json()["items"][0]["event_id"]


@pytest.mark.browser
def test_ohs_user_walks_every_tab_and_clears_an_alarm(fed_hub, artifacts_dir):
    hub = fed_hub
    held = _held_exam(hub)
    decided = httpx.post(f"{hub.url}/api/v1/medic/exams/{held}/decision", headers=auth(MEDIC),
                         json={"decision": "not_admitted", "reason": "давление не снизилось"})
    assert decided.status_code == 201, decided.text
    shots = artifacts_dir / "hub-dashboard"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(hub.url + "/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#token", OHS)
        page.click("#login button[type=submit]")
        page.wait_for_selector("body[data-rendered='overview']")
        page.wait_for_selector("#chart-per-day canvas")
        tiles = page.inner_text("#tiles")
        assert "32" in tiles, tiles  # 4 days × 8 exams
        assert page.locator("#per-kiosk tr[data-kiosk='kiosk-01'] td").nth(1).inner_text() == "32"
        # the medic's decision moved one exam from "needs medic" to "not admitted"
        assert page.locator("#per-kiosk tr[data-kiosk='kiosk-01'] td").nth(3).inner_text() == "5"
        assert page.locator("#per-kiosk tr[data-kiosk='kiosk-01'] td").nth(4).inner_text() == "3"
        page.screenshot(path=str(shots / "overview-ru.png"), full_page=True)

        page.click("[data-tab='journal']")
        page.wait_for_selector("body[data-rendered='journal']")
        page.wait_for_selector(f"#exams tr[data-event-id='{held}']")
        decided_row = page.locator(f"#exams tr[data-event-id='{held}'] td")
        assert decided_row.nth(4).inner_text() == "не допущен"
        assert "Петрова" in decided_row.nth(5).inner_text()
        assert decided_row.nth(6).inner_text() == "к медику"  # the pre-decision, labelled as such
        assert "предварительное" in page.locator("#exams tbody tr").nth(1).locator("td").nth(5).inner_text()
        page.screenshot(path=str(shots / "journal-ru.png"), full_page=True)
        page.fill("#j-worker", "W00100")
        page.click("#journal-filters button[type=submit]")
        wait_until(lambda: page.locator("#exams tbody tr").count() == 1, message="one worker's exams")
        assert page.locator("#exams tbody td").nth(1).inner_text() == "W00100"
        page.fill("#j-worker", "")
        page.select_option("#j-outcome", "not_admitted")
        page.click("#journal-filters button[type=submit]")
        wait_until(lambda: page.locator("#exams tbody tr").count() == 5, message="five not admitted in the end")
        with page.expect_download() as download:
            page.click("#j-export")
        text = download.value.path().read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 5 and {r["final_outcome"] for r in rows} == {"not_admitted"}
        assert {r["outcome_source"] for r in rows} == {"kiosk", "medic"}
        # no column and no cell carries a measured value (whole cells: a random event id may hold "128")
        cells = {cell for row in rows for cell in row.values()}
        assert not {"0.21", "128", "128.0"} & cells, "the OHS export carries no measured value"
        assert not {"systolic_mmhg", "brac_mg_l", "measurements"} & set(rows[0]), rows[0]

        page.click("[data-tab='environment']")
        page.wait_for_selector("body[data-rendered='environment']")
        page.wait_for_selector("#chart-noise canvas")
        shop = page.locator("#noise-zones tr[data-zone='shop-1'] td")
        assert shop.nth(3).inner_text().startswith("3."), "91 dBA over a shift is a harmful class"
        page.screenshot(path=str(shots / "environment-ru.png"), full_page=True)

        page.click("[data-tab='risk']")
        page.wait_for_selector("body[data-rendered='risk']")
        assert page.inner_text("#heatmap td[data-cell='D3']") == "1"  # before measures
        assert page.inner_text("#heatmap td[data-cell='B2']") == "0 (1)"  # after measures (residual)
        assert "level-high" in page.get_attribute("#heatmap td[data-cell='D3']", "class")
        overdue = page.locator("#measures tr.overdue")
        assert overdue.count() == 1 and "кожух пресса" in overdue.inner_text()
        page.screenshot(path=str(shots / "risk-ru.png"), full_page=True)
        overdue.locator("select.measure-status").select_option("done")
        wait_until(lambda: page.locator("#measures tr.overdue").count() == 0, message="a done measure is not overdue")
        for tab in ("epi", "fleet"):
            page.click(f"[data-tab='{tab}']")
            page.wait_for_selector(f"body[data-rendered='{tab}']")
            page.screenshot(path=str(shots / f"{tab}-ru.png"), full_page=True)
        assert page.locator("#kiosks tr[data-kiosk='kiosk-01']").inner_text().count("на связи") == 1
        assert page.inner_text("#status") == ""

        page.click("[data-tab='alarms']")
        page.wait_for_selector("body[data-rendered='alarms']")
        alarm = page.locator("#alarms tbody tr[data-alarm-id]").first
        assert "shop-1" in alarm.inner_text() and "новая" in alarm.inner_text()
        alarm_id = alarm.get_attribute("data-alarm-id")
        open_before = page.locator("#alarms tbody tr[data-alarm-id]").count()
        alarm.locator("button.ack").click()
        page.wait_for_selector(f"#alarms tr[data-alarm-id='{alarm_id}'] td:has-text('принята: ОТиПБ')")
        page.locator(f"#alarms tr[data-alarm-id='{alarm_id}'] button.clear").click()
        wait_until(lambda: page.locator("#alarms tbody tr[data-alarm-id]").count() == open_before - 1,
                   message="the cleared alarm leaves the open list")
        page.uncheck("#a-open")
        page.wait_for_selector(f"#alarms tr[data-alarm-id='{alarm_id}'] td:has-text('снята: ОТиПБ')")
        page.screenshot(path=str(shots / "alarms-ru.png"), full_page=True)

        page.click("button[data-lang='en']")
        page.wait_for_selector(f"#alarms tr[data-alarm-id='{alarm_id}'] td:has-text('cleared: ОТиПБ')")
        assert page.inner_text("h1") == "Pre-shift medical exams — hub"
        for tab in TABS:
            page.click(f"[data-tab='{tab}']")
            page.wait_for_selector(f"body[data-rendered='{tab}']")
            body = page.inner_text("body")
            assert not any(v in body for v in MEDICAL), f"a measured value on the OHS {tab} tab"
        page.screenshot(path=str(shots / "fleet-en.png"), full_page=True)
        browser.close()
    outside = [url for url in requested if not url.startswith(hub.url)]
    assert outside == [], f"assets must be served locally, not from {outside}"


def test_exam_list_carries_the_final_outcome_and_alarm_actions_are_kept(fed_hub):
    hub = fed_hub
    held = _held_exam(hub)
    assert httpx.post(f"{hub.url}/api/v1/medic/exams/{held}/decision", headers=auth(MEDIC),
                      json={"decision": "admitted", "reason": "повторно 150/95, допущен"}).status_code == 201
    item = httpx.get(f"{hub.url}/api/v1/exams/{held}", headers=auth(OHS)).json()
    assert (item["outcome"], item["final_outcome"], item["outcome_source"]) == ("needs_medic", "admitted", "medic")
    assert item["decided_by"] == "Петрова А. В., фельдшер" and item["decided_at"]
    assert "measurements" not in item
    finals = httpx.get(hub.url + "/api/v1/exams", params={"final_outcome": "needs_medic"}, headers=auth(OHS)).json()
    assert held not in {e["event_id"] for e in finals["items"]} and finals["total"] == 3
    stats = httpx.get(hub.url + "/api/v1/stats/exams", headers=auth(OHS)).json()
    assert stats["total"] == {"total": 32, "admitted": 25, "not_admitted": 4, "needs_medic": 3}

    alarms = httpx.get(hub.url + "/api/v1/analytics/alarms", params={"state": "open"}, headers=auth(OHS)).json()
    assert alarms["total"] >= 1
    alarm_id = alarms["items"][0]["id"]
    assert httpx.post(f"{hub.url}/api/v1/alarms/{alarm_id}/clear", headers=auth(MEDIC)).status_code == 403
    cleared = httpx.post(f"{hub.url}/api/v1/alarms/{alarm_id}/clear", headers=auth(OHS), json={"note": "глушители"})
    assert cleared.status_code == 200, cleared.text
    state = cleared.json()
    assert state["state"] == "cleared" and state["acknowledged_by"] == state["cleared_by"] == "ОТиПБ"
    assert httpx.post(f"{hub.url}/api/v1/alarms/{alarm_id}/clear", headers=auth(OHS)).status_code == 409
    assert httpx.post(f"{hub.url}/api/v1/alarms/{alarm_id}/acknowledge", headers=auth(OHS)).status_code == 409
    assert httpx.post(f"{hub.url}/api/v1/alarms/999999/acknowledge", headers=auth(OHS)).status_code == 404
    runner_for(hub.store).run_once()  # recomputing refreshes the alarm; it stays cleared
    still = httpx.get(hub.url + "/api/v1/analytics/alarms", params={"state": "cleared"}, headers=auth(OHS)).json()
    assert alarm_id in {a["id"] for a in still["items"]}


def test_an_ohs_exam_view_cannot_carry_a_measured_value():
    """The privacy boundary is a type: the OHS view drops whatever medical keys a row holds."""
    from hub.api.views import ExamMedical, ExamOutcome, exam_view

    row = {"event_id": "e", "site": "plant-1", "kiosk": "kiosk-01", "seq": 1, "exam_id": "x", "worker_id": "W1",
           "exam_type": "pre_shift", "started_at": "2026-12-01T06:00:00+00:00", "finished_at": "2026-12-01T06:03:00+00:00",
           "outcome": "needs_medic", "final_outcome": "not_admitted", "outcome_source": "medic", "decided_by": "Петрова",
           "decided_at": "2026-12-01T06:10:00+00:00", "chain_status": "ok", "rule_set_version": "1", "historical": False,
           "received_at": "2026-12-01T06:03:01+00:00", "body": '{"measurements": []}',
           "measurements": [{"field": "systolic_mmhg", "value": 184}], "answers": {"feels_unwell": True},
           "fired": [{"rule": "bp.severe", "value": "184/112"}]}
    ohs = exam_view(row, medical=False)
    assert set(ohs) == set(ExamOutcome.model_fields) and "184" not in str(ohs)
    assert exam_view(row, medical=True)["measurements"][0]["value"] == 184
    assert set(ExamMedical.model_fields) - set(ExamOutcome.model_fields) == {"measurements", "answers", "fired", "fatigue"}
