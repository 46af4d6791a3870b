"""A simulated month (3 kiosks × 30 days, ``ohs-sim fleet``) through a real mosquitto into an
in-process hub, then the analytics API: zone noise classes, worker L_EX,8h, the smoke-violation
report, the febrile curve with the injected outbreak, Rt with intervals and its early warning,
and the hypertension / noise comparison."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest

from hub.analytics.workplaces import load_workplaces_file
from hub.db import telemetry_points
from ohs_demo.broker import mosquitto_binary, start_mosquitto
from simulators.fleet import FleetOptions, run_fleet
from tests.analytics.an_helpers import auth, start_hub

START = date(2026, 1, 5)
OUTBREAK_DAY = 15


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto (the tests need a real broker)")
    tmp = tmp_path_factory.mktemp("an-month")
    broker = start_mosquitto(tmp / "broker")
    hub = None
    try:
        hub = start_hub(tmp, broker, {"interval_s": 3600})
        result = run_fleet(FleetOptions(kiosks=3, days=30, workers=60, outbreak_day=OUTBREAK_DAY, seed=1,
                                        broker=(broker.host, broker.port), start_date=START,
                                        workdir=tmp / "fleet"))
        assert result.drained, "the hub must acknowledge every record of the month"
        load_workplaces_file(hub.store, result.roster_path)
        summary = hub.analytics.run_once()
        assert all(a["ok"] for a in summary["analyses"].values()), summary
        client = httpx.Client(base_url=hub.url, headers=auth("ohs"), timeout=60)
        yield hub, result, client
        client.close()
    finally:
        if hub is not None:
            hub.stop()
        broker.stop()


def test_every_record_of_the_month_is_stored(month):
    hub, result, client = month
    assert result.elapsed_s < 45, f"a month of 3 kiosks must simulate in well under a minute ({result.elapsed_s} s)"
    assert hub.store.scalar("SELECT count(*) FROM exams") == result.records["exams"] > 3000
    assert telemetry_points.count(hub.store) > result.records["telemetry_readings"]
    assert hub.store.scalar("SELECT count(*) FROM events WHERE type = 'smoke_alarm'") == len(result.smoke)


def test_zone_noise_classes_noisy_and_quiet(month):
    hub, result, client = month
    body = client.get("/api/v1/analytics/noise/zones").json()
    assert body["precomputed"] is True and body["period"]["date_to"] == (START + timedelta(days=29)).isoformat()
    zones = {z["zone"]: z for z in body["zones"]}
    assert zones["press-shop"]["period"]["class"] == "3.2"
    assert zones["assembly"]["period"]["class"] == "3.1"
    assert zones["office"]["period"]["class"] == "2" and zones["lab"]["period"]["class"] == "2"
    assert len(zones["press-shop"]["days"]) == 30
    for name in ("press-shop", "assembly"):
        assert zones[name]["period"]["days_over_limit"] == 30 and zones[name]["name_en"]
    for name in ("office", "lab"):
        assert zones[name]["period"]["days_over_limit"] == 0
    day = zones["press-shop"]["days"][0]
    assert day["intervals"] == 24 and day["covered_hours"] == pytest.approx(24.0)
    assert day["max_reading_db"] > day["laeq_db"] - 1


def test_noise_alarms_one_per_zone_day(month):
    hub, result, client = month
    alarms = client.get("/api/v1/analytics/alarms", params={"kind": "noise_over_limit", "limit": 1000}).json()
    assert alarms["total"] == 60  # two noisy zones × 30 days, no duplicates
    assert {a["location"] for a in alarms["items"]} == {"press-shop", "assembly"}
    assert all(a["message_ru"] and a["message_en"] for a in alarms["items"])


def test_worker_lex_by_workplace(month):
    hub, result, client = month
    workers = client.get("/api/v1/analytics/noise/workers", headers=auth("medic")).json()["workers"]  # medic only
    assert len(workers) == result.workers
    by_place: dict[str, set] = {}
    for w in workers:
        assert w["days_with_data"] == w["days_worked"] and not w["days_without_data"]
        if w["days_worked"]:  # a worker refused every day (alcohol) was never exposed
            by_place.setdefault(w["workplace"], set()).add(w["class"])
    assert sum(1 for w in workers if w["days_worked"] >= 10) > 0.9 * len(workers)
    assert by_place == {"press-operator": {"3.2"}, "assembler": {"3.1"}, "engineer": {"2"}, "lab-technician": {"2"}}
    chosen = next(w for w in workers if w["days_worked"])
    one = client.get("/api/v1/analytics/noise/workers", params={"worker": chosen["worker"]},
                     headers=auth("medic")).json()
    entry = one["workers"][0]
    assert one["precomputed"] is False and len(entry["days"]) == entry["days_worked"]
    assert {s["zone"] for s in entry["days"][0]["segments"]} <= {"press-shop", "assembly", "office", "lab"}


def test_smoke_report_lists_the_injected_locations_and_days(month):
    hub, result, client = month
    body = client.get("/api/v1/analytics/smoke/violations").json()
    (site,) = body["sites"]
    reported = {(r["location"], r["period"]) for r in site["report"]}
    assert reported == {(s["location"], s["date"]) for s in result.smoke}
    for v in site["violations"]:
        assert v["sources"] == ["detector", "pm"], "the detector alarm and the PM plume are one violation"
    weekly = client.get("/api/v1/analytics/smoke/violations", params={"report_period": "week"}).json()
    assert sum(r["violations"] for r in weekly["sites"][0]["report"]) == len(result.smoke)
    alarms = client.get("/api/v1/analytics/alarms", params={"kind": "smoke_violation"}).json()
    assert {(a["location"], a["day"]) for a in alarms["items"]} == reported


def test_febrile_curve_shows_the_outbreak(month):
    hub, result, client = month
    body = client.get("/api/v1/analytics/epi/febrile", headers=auth("medic")).json()  # unsuppressed
    rows = body["febrile_by_day_site"]
    assert len(rows) == 30 and all(r["lower"] <= r["proportion"] <= r["upper"] for r in rows)
    outbreak = date.fromisoformat(result.outbreak["date"])
    before = [r["proportion"] for r in rows if date.fromisoformat(r["date"]) < outbreak]
    after = [r["proportion"] for r in rows if date.fromisoformat(r["date"]) >= outbreak + timedelta(days=7)]
    assert max(before) < 0.1 and max(after) > 0.3
    assert "alcohol_by_site_shift" not in body


def test_rt_has_intervals_and_the_warning_catches_the_outbreak(month):
    hub, result, client = month
    body = client.get("/api/v1/analytics/rt/febrile", headers=auth("medic")).json()  # unsuppressed
    (site,) = body["sites"]
    estimates = site["rt"]["estimates"]
    assert estimates and all(e["lower"] < e["median"] < e["upper"] for e in estimates)
    assert all("date_end" in e for e in estimates)
    outbreak = date.fromisoformat(result.outbreak["date"])
    warning = site["early_warning"]
    raised = date.fromisoformat(warning["raised_on"])
    assert outbreak <= raised <= outbreak + timedelta(days=4), (raised, outbreak)
    assert all(date.fromisoformat(ep["raised_on"]) >= outbreak for ep in warning["episodes"])
    before = [e for e in estimates if date.fromisoformat(e["date_end"]) < outbreak]
    assert all(e["lower"] <= 1 for e in before), "no warning may hold before the outbreak"
    # windows with no febrile case before the outbreak give no estimate (issue 13, error 6), never the prior
    no_estimate = [w for w in site["rt"]["not_estimable"] if w.get("no_estimate")]
    assert before or no_estimate, "each window before the outbreak is either estimated or says why it is not"
    assert all(w["reason"] for w in no_estimate)
    alarms = client.get("/api/v1/analytics/alarms", params={"kind": "rt_warning"}).json()["items"]
    assert [a["day"] for a in alarms] == [ep["raised_on"] for ep in reversed(warning["episodes"])]


def test_hypertension_noise_comparison_gives_rr_with_ci(month):
    hub, result, client = month
    body = client.get("/api/v1/analytics/compare/hypertension-noise", headers=auth("medic")).json()
    rr = body["rr"]
    assert rr["lower"] < rr["estimate"] < rr["upper"] and rr["estimate"] > 1
    counts = body["counts"]
    assert counts["noisy"]["workers"] + counts["quiet"]["workers"] == result.workers
    assert body["comparison"]["exposed"] == "noisy" and body["comparison"]["reference"] == "quiet"


def test_alcohol_and_bp_rates(month):
    hub, result, client = month
    alcohol = client.get("/api/v1/analytics/epi/alcohol", headers=auth("medic")).json()  # unsuppressed
    assert {r["shift"] for r in alcohol["alcohol_by_site_shift"]} == {"day", "night"}
    assert sum(r["tested"] for r in alcohol["alcohol_by_site_shift"]) == result.records["exams"]
    assert len({r["date"] for r in alcohol["alcohol_daily"]}) == 30
    bp = client.get("/api/v1/analytics/epi/bp", headers=auth("medic")).json()
    (row,) = bp["bp_by_site"]
    assert max(row["high"], row["low"]) <= row["out_of_range"] <= row["high"] + row["low"]
    assert 0 < row["proportion"] < 1 and row["lower"] < row["proportion"] < row["upper"]


def test_only_aggregates_leave_through_the_epi_endpoints(month):
    hub, result, client = month
    for path in ("epi/febrile", "epi/alcohol", "epi/bp", "rt/febrile", "compare/hypertension-noise"):
        text = client.get(f"/api/v1/analytics/{path}").text
        assert '"W0' not in text, f"{path} must not name a worker"
        assert "systolic_mmhg" not in text and "temperature_c\":" not in text.replace("febrile_temperature_c", "")


def test_fresh_equals_precomputed_and_a_second_run_adds_no_alarm(month):
    hub, result, client = month
    pre = client.get("/api/v1/analytics/rt/febrile").json()
    fresh = client.get("/api/v1/analytics/rt/febrile", params={"fresh": "true"}).json()
    assert pre["precomputed"] and not fresh["precomputed"]
    assert pre["sites"][0]["early_warning"] == fresh["sites"][0]["early_warning"]
    before = client.get("/api/v1/analytics/alarms").json()
    summary = hub.analytics.run_once()
    after = client.get("/api/v1/analytics/alarms").json()
    assert summary["new_alarms"] == 0 and after["total"] == before["total"] and after["by_kind"] == before["by_kind"]


def test_roles_and_errors(month):
    hub, result, client = month
    assert httpx.get(f"{hub.url}/api/v1/analytics/noise/zones").status_code == 401
    for role in ("medic", "admin"):
        assert httpx.get(f"{hub.url}/api/v1/analytics/epi/bp", headers=auth(role), timeout=30).status_code == 200
    bad = client.get("/api/v1/analytics/rt/febrile", params={"date_from": "2026-02-10", "date_to": "2026-02-01"})
    assert bad.status_code == 422 and "after" in json.dumps(bad.json())
    index = client.get("/api/v1/analytics").json()
    assert {i["name"] for i in index["items"]} >= {"noise-zones", "rt-febrile"}
    assert all(i["computed_at"] for i in index["items"]) and index["runner"]["running"]
    narrowed = client.get("/api/v1/analytics/noise/zones",
                          params={"zone": "office", "date_from": "2026-01-10", "date_to": "2026-01-11",
                                  "detail": "true"}).json()
    (office,) = narrowed["zones"]
    assert [d["date"] for d in office["days"]] == ["2026-01-10", "2026-01-11"]
    assert len(office["days"][0]["interval_levels"]) == 24


@pytest.mark.browser
def test_dashboard_shows_zone_classes_rt_warning_and_alarms(month, artifacts_dir):
    """The OHS dashboard's analytics section, in a real Chromium, with a token-holding OHS user."""
    from playwright.sync_api import sync_playwright

    from tests.hub_web.test_hub_dashboard import CHROMIUM_ARGS

    hub, _, _ = month
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      extra_http_headers=auth("ohs"))
        page = context.new_page()
        page.goto(hub.url + "/#environment")
        page.wait_for_selector("#noise-zones tbody tr td:nth-child(4)")  # no wait_for_function: the CSP forbids eval
        zones = page.inner_text("#noise-zones tbody")
        assert "3.2" in zones and "2" in zones
        page.click("[data-tab='epi']")
        page.wait_for_selector("#rt tbody tr td:nth-child(4)")
        warning = page.inner_text("#rt tbody td:nth-child(4)")
        assert warning.startswith(("объявлено", "было")) and "2026-01" in warning, warning
        page.click("[data-tab='alarms']")
        page.uncheck("#a-open")
        page.wait_for_selector("#alarms tbody tr:nth-child(3)")
        assert "Шум в зоне" in page.inner_text("#alarms tbody") or "Курение" in page.inner_text("#alarms tbody")
        page.screenshot(path=str(artifacts_dir / "hub-dashboard-analytics.png"), full_page=True)
        browser.close()
