"""The OHS dashboard in a real headless Chromium: outcomes only, Russian first, nothing from the internet."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from edge_agent.agent import KioskAgent
from hub.service import HubService
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


@pytest.mark.browser
def test_dashboard_shows_fleet_and_outcomes(tmp_path, broker, artifacts_dir):
    hub = HubService(hub_config(tmp_path, broker, anonymous_role="ohs")).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    try:
        kiosk.record("exam", exam_body("W00001", "admitted"))
        kiosk.record("exam", exam_body("W00002", "not_admitted"))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="exams at the hub")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            requested = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(hub.url + "/")
            page.wait_for_selector("#exams tbody tr[data-event-id]")
            assert page.locator("#exams tbody tr").count() == 2
            assert page.locator("tr[data-kiosk='kiosk-01']").inner_text().count("на связи") == 1
            assert page.locator("#exams td.not_admitted").inner_text() == "не допущен"
            body = page.inner_text("body")
            assert "128" not in body and "0.21" not in body, "no medical values on the OHS dashboard"
            page.screenshot(path=str(artifacts_dir / "hub-dashboard-ru.png"))
            page.click("button[data-lang='en']")
            # a selector wait, not wait_for_function: the hub's CSP forbids the eval that one needs
            page.wait_for_selector("#exams td.not_admitted:text-is('not admitted')")
            assert page.inner_text("h1") == "Pre-shift medical exams — hub"
            page.screenshot(path=str(artifacts_dir / "hub-dashboard-en.png"))
            page.goto(hub.url + "/docs")
            page.wait_for_selector(".swagger-ui .info")
            browser.close()
        outside = [url for url in requested if not url.startswith(hub.url)]
        assert outside == [], f"assets must be served locally, not from {outside}"
    finally:
        kiosk.stop()
        hub.stop()
