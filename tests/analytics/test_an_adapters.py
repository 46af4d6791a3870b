"""The SQL → model adapters on small hand-made data in a real SQLite store."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from firmware_bridges.configfile import ConfigError
from hub.analytics import AnalyticsSettings, compute
from hub.analytics.epidemiology import incident_cases, si_burn_in
from hub.analytics.period import PeriodError
from hub.analytics.workplaces import Roster, Shift, load_workplaces_file, save_roster, shift_of
from hub.store import Store
from tests.analytics.an_helpers import Records

UTC = timezone.utc
D1 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


@pytest.fixture
def store(hub_store_url):  # a SQLite file or a PostgreSQL database (--hub-backends)
    s = Store(hub_store_url, synchronous="NORMAL")
    yield s
    s.close()


def roster(**extra) -> Roster:
    doc = {
        "site": "plant-1",
        "shifts": [{"shift": "day", "start": time(8), "hours": 8}, {"shift": "night", "start": time(20), "hours": 8}],
        "zones": [{"zone": "loud", "noise_limit_db": 85.0}, {"zone": "calm"}, {"zone": "wc"},
                  {"zone": "smoking-area", "smoke_free": False}],
        "workplaces": [{"workplace": "op", "segments": [{"zone": "loud", "hours": 6}, {"zone": "calm", "hours": 2}]}],
        "assignments": [{"workplace": "op", "shift": "day", "workers": ["W1", "W2"]}],
    }
    doc.update(extra)
    return Roster.model_validate(doc)


def settings(**kw) -> AnalyticsSettings:
    return AnalyticsSettings(**kw)


def test_zone_noise_levels_classes_limits_and_skipped_values(store):
    rec = Records(store)
    save_roster(store, roster(), "test")
    rec.noise("loud", D1, [90.0] * 288)  # a whole day, 5-min values
    rec.noise("calm", D1 + timedelta(hours=8), [60.0, 66.0] * 6)
    rec.noise("calm", D1 + timedelta(hours=12), [None, 250.0], invalid={"noise_dba": "sensor fault"})
    out = compute(store, settings(), "noise-zones", {"date_from": date(2026, 3, 2), "date_to": date(2026, 3, 2)})
    zones = {z["zone"]: z for z in out["zones"]}
    loud, calm = zones["loud"]["days"][0], zones["calm"]["days"][0]
    assert loud["laeq_db"] == pytest.approx(90.0) and loud["class"] == "3.2"
    assert zones["loud"]["limit_db"] == 85.0 and loud["intervals_over_limit"] == 24
    assert loud["covered_hours"] == pytest.approx(24.0)
    energy = 10 * math.log10((10 ** 6.0 + 10 ** 6.6) / 2)
    assert calm["laeq_db"] == pytest.approx(energy) and calm["class"] == "2" and calm["intervals_over_limit"] == 0
    assert zones["calm"]["limit_db"] == 80.0
    assert out["skipped_invalid"] == {"sensor fault": 1, "implausible noise_dba": 1}
    assert [a["zone"] for a in out["alarms"]] == ["loud"]


def test_zone_days_follow_the_analytics_time_zone(store):
    rec = Records(store)
    rec.noise("loud", datetime(2026, 3, 2, 22, 0, tzinfo=UTC), [70.0, 70.0])  # 01:00 on 3 March in Moscow
    utc = compute(store, settings(), "noise-zones", {})
    msk = compute(store, settings(timezone="Europe/Moscow"), "noise-zones", {})
    assert [d["date"] for d in utc["zones"][0]["days"]] == ["2026-03-02"]
    assert [d["date"] for d in msk["zones"][0]["days"]] == ["2026-03-03"]


def test_worker_lex_from_roster_and_worked_days(store):
    rec = Records(store)
    save_roster(store, roster(), "test")
    for day in range(3):
        base = D1 + timedelta(days=day)
        rec.noise("loud", base + timedelta(hours=8), [95.0] * 96)
        rec.noise("calm", base + timedelta(hours=8), [65.0] * 96)
    rec.exam("W1", D1 + timedelta(hours=7, minutes=40))
    rec.exam("W1", D1 + timedelta(days=1, hours=7, minutes=40), outcome="not_admitted")
    rec.exam("W1", D1 + timedelta(days=2, hours=7, minutes=40), outcome="needs_medic")
    out = compute(store, settings(), "noise-workers", {"worker": "W1"})
    (w1,) = out["workers"]
    expected = 10 * math.log10(6 / 8 * 10 ** 9.5 + 2 / 8 * 10 ** 6.5)
    assert w1["days_worked"] == 2 and [d["date"] for d in w1["days"]] == ["2026-03-02", "2026-03-04"]
    assert w1["days"][0]["lex_8h_db"] == pytest.approx(expected) and w1["class"] == "3.2"  # 93.75 dBA
    everyone = compute(store, settings(), "noise-workers", {})
    assert {w["worker"]: w["days_worked"] for w in everyone["workers"]} == {"W1": 2, "W2": 0}
    assert "days" not in everyone["workers"][0]


def test_worker_day_without_zone_telemetry_is_reported_not_guessed(store):
    rec = Records(store)
    save_roster(store, roster(), "test")
    rec.noise("loud", D1 + timedelta(hours=8), [90.0] * 96)
    rec.exam("W2", D1 + timedelta(hours=7, minutes=50))
    (w2,) = compute(store, settings(), "noise-workers", {"worker": "W2"})["workers"]
    assert w2["days_with_data"] == 0 and "calm" in w2["days_without_data"][0]["reason"]


def test_smoke_report_from_events_and_pm(store):
    rec = Records(store)
    save_roster(store, roster(), "test")
    rec.smoke("wc", D1 + timedelta(hours=10))
    rec.smoke(None, D1 + timedelta(days=1, hours=11), device="det-9")
    rec.smoke("smoking-area", D1 + timedelta(hours=12))
    plume = [8.0] * 12 + [300.0, 180.0, 110.0, 9.0, 8.0, 8.0, 8.0, 8.0]
    rec.pm("wc", D1 + timedelta(days=2, hours=9), plume, ratio=0.9)
    rec.pm("calm", D1 + timedelta(days=2, hours=9), [8.0] * 12 + [300.0, 200.0] + [8.0] * 6, ratio=0.5)
    out = compute(store, settings(), "smoke-violations", {})
    (site,) = out["sites"]
    assert {(r["location"], r["period"]) for r in site["report"]} == {
        ("wc", "2026-03-02"), ("det-9", "2026-03-03"), ("wc", "2026-03-04")}
    assert site["ignored_not_smoke_free"] == 1  # the designated smoking area
    pm_alarm = next(a for a in site["alarms"] if a["source"] == "pm")
    assert pm_alarm["time"].startswith("2026-03-04T10:00")  # the first sample of the plume


def test_kiosk_rates_use_the_last_valid_reading_and_shifts(store):
    rec = Records(store)
    save_roster(store, roster(), "test")
    rec.exam("W1", D1 + timedelta(hours=7, minutes=45), temperature_c=[37.6, 36.7], brac_mg_l=0.0,
             systolic_mmhg=150, diastolic_mmhg=95)
    rec.exam("W2", D1 + timedelta(hours=7, minutes=50), temperature_c=[37.4, None], brac_mg_l=0.3,
             systolic_mmhg=120, diastolic_mmhg=80)
    rec.exam("W3", D1 + timedelta(hours=19, minutes=40), temperature_c=36.6, brac_mg_l=0.2,
             systolic_mmhg=95, diastolic_mmhg=60)
    out = compute(store, settings(), "epi-kiosk", {})
    (fev,) = out["febrile_by_day_site"]
    assert (fev["examined"], fev["febrile"]) == (3, 1)  # W1's re-test 36.7 supersedes; W2 keeps 37.4
    alcohol = {r["shift"]: (r["tested"], r["positive"]) for r in out["alcohol_by_site_shift"]}
    assert alcohol == {"day": (2, 1), "night": (1, 1)}
    (bp,) = out["bp_by_site"]
    assert (bp["measured"], bp["high"], bp["low"]) == (3, 1, 1)
    assert [r["date"] for r in out["bp_daily"]] == ["2026-03-02"]


def test_incident_cases_count_episodes_not_fever_days():
    days = {("s", "a"): [date(2026, 3, d) for d in (1, 2, 3, 20)], ("s", "b"): [date(2026, 3, 2)]}
    new = incident_cases(days, gap_days=7)
    assert dict(new) == {("s", date(2026, 3, 1)): 1, ("s", date(2026, 3, 2)): 1, ("s", date(2026, 3, 20)): 1}


def test_si_burn_in_matches_the_discretised_serial_interval():
    # w = 0, .233, .359, .198, .103, .053, .027 (reference.md §6.4): the CDF passes 95 % on day 6
    assert si_burn_in(2.6, 1.5) == 6


def test_rt_on_hand_made_exams(store):
    rec = Records(store)
    cases = [0] * 10 + [1, 2, 3, 4, 6, 8, 11]
    worker = 0
    for day, n in enumerate(cases):
        at = D1 + timedelta(days=day, hours=7)
        for _ in range(n):
            rec.exam(f"F{worker}", at, temperature_c=38.2)
            worker += 1
        rec.exam("HEALTHY", at, temperature_c=36.6)
    out = compute(store, settings(), "rt-febrile", {})
    (site,) = out["sites"]
    assert site["new_febrile"] == cases and site["examined"] == [1] * 10 + [n + 1 for n in cases[10:]]
    assert out["burn_in_days"] == 6 and site["rt"]["estimates"][0]["t_start"] == 7
    # windows end on day 13 at the earliest (burn-in 6 + 7 days); both the first (day 13) and the second
    # (day 14) have a lower bound > 1, so the warning is raised with the second: day 14 = 15 March
    assert site["early_warning"]["raised_on"] == "2026-03-15"
    assert [e["lower"] > 1 for e in site["rt"]["estimates"]] == [True] * 5
    short = compute(store, settings(), "rt-febrile", {"date_from": date(2026, 3, 12), "date_to": date(2026, 3, 18)})
    assert short["sites"][0]["rt"] is None and "needs at least" in short["sites"][0]["note"]


def test_hypertension_comparison_counts_and_rr(store):
    rec = Records(store)
    save_roster(store, roster(workplaces=[
        {"workplace": "op", "segments": [{"zone": "loud", "hours": 8}]},
        {"workplace": "desk", "segments": [{"zone": "calm", "hours": 8}]}],
        assignments=[{"workplace": "op", "shift": "day", "workers": ["N1", "N2", "N3", "N4"]},
                     {"workplace": "desk", "shift": "day", "workers": ["Q1", "Q2", "Q3", "Q4", "Q5"]}]), "test")
    hyper = {"N1", "N2", "Q1"}
    for day in range(3):
        base = D1 + timedelta(days=day)
        rec.noise("loud", base + timedelta(hours=8), [88.0] * 96)
        rec.noise("calm", base + timedelta(hours=8), [55.0] * 96)
        for w in ("N1", "N2", "N3", "N4", "Q1", "Q2", "Q3", "Q4", "Q5"):
            bp = (150, 95) if w in hyper else (120, 80)
            rec.exam(w, base + timedelta(hours=7, minutes=30), systolic_mmhg=bp[0], diastolic_mmhg=bp[1])
    out = compute(store, settings(), "compare-hypertension-noise", {})
    assert out["counts"] == {"noisy": {"workers": 4, "hypertensive": 2}, "quiet": {"workers": 5, "hypertensive": 1}}
    assert out["rr"]["estimate"] == pytest.approx((2 / 4) / (1 / 5))
    assert out["rr"]["lower"] < out["rr"]["estimate"] < out["rr"]["upper"]
    fewer = compute(store, settings(min_worker_days=4), "compare-hypertension-noise", {})
    assert fewer["comparison"] is None and fewer["excluded_workers"]["too_few_bp_days"] == 9


def test_roster_errors_name_the_problem(tmp_path, store):
    bad = tmp_path / "w.toml"
    bad.write_text('site = "plant-1"\n[[zones]]\nzone = "a"\n[[workplaces]]\nworkplace = "x"\n'
                   'segments = [{ zone = "b", hours = 2 }]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="zone 'b' is not in"):
        load_workplaces_file(store, bad)
    with pytest.raises(ValueError, match="more than shift"):
        roster(workplaces=[{"workplace": "op", "segments": [{"zone": "loud", "hours": 9}]}])
    with pytest.raises(ValueError, match="assigned twice"):
        roster(assignments=[{"workplace": "op", "shift": "day", "workers": ["W1"]},
                            {"workplace": "op", "shift": "night", "workers": ["W1"]}])


def test_shift_of_the_nearest_start():
    shifts = [Shift(shift="day", start=time(8), hours=8), Shift(shift="night", start=time(20), hours=8)]
    assert shift_of(time(7, 40), shifts) == "day" and shift_of(time(19, 30), shifts) == "night"
    assert shift_of(time(1, 0), shifts) == "night" and shift_of(time(12, 0), []) is None


def test_period_errors_and_defaults(store):
    with pytest.raises(PeriodError, match="after"):
        compute(store, settings(), "epi-kiosk", {"date_from": date(2026, 3, 5), "date_to": date(2026, 3, 1)})
    with pytest.raises(ValueError, match="does not take"):
        compute(store, settings(), "epi-kiosk", {"zone": "x"})
    empty = compute(store, settings(lookback_days=7), "epi-kiosk", {})
    today = datetime.now(ZoneInfo("UTC")).date()
    assert empty["period"]["date_to"] == today.isoformat() and empty["exams"] == 0
