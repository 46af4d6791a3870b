"""smoke-report: the PM2.5 detector vector of reference.md §7.2 (D), alarms, violations, periods."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hub.models.registry import ModelInputError, run_model
from hub.models.smoke_report import detect_pm_events, period_key

RULE = {"baseline_minutes": 30, "exceedance_ugm3": 50.0, "fine_ratio": 0.8, "min_consecutive": 2,
        "return_band_ugm3": 10.0, "return_minutes": 5}
T0 = datetime(2026, 3, 2, 10, 0, 0)


def series(values, ratio=0.9, step=10, start=T0):
    return [start + timedelta(seconds=step * i) for i in range(len(values))], list(values), [ratio * v for v in values]


def test_reference_vector():
    t, pm, pm1 = series([14, 70, 95, 60, 20] + [15] * 31)
    events = detect_pm_events(t, pm, pm1, RULE, baseline_ugm3=12)
    assert len(events) == 1
    e = events[0]
    assert e["first_index"] == 1 and e["confirmed_index"] == 2  # samples 2 and 3 (1-based); 60−12 = 48 is not one
    assert e["start"] == t[1].isoformat() and e["confirmed"] == t[2].isoformat()
    assert e["end"] == (t[4] + timedelta(minutes=5)).isoformat()  # 5 min after the first return to ≤ 22
    assert e["peak_ugm3"] == 95


def test_vector_event_still_open_without_5_min_of_return():
    t, pm, pm1 = series([14, 70, 95, 60, 20, 15, 15])
    (e,) = detect_pm_events(t, pm, pm1, RULE, baseline_ugm3=12)
    assert e["end"] is None


def test_single_spike_coarse_dust_and_missing_pm1_are_not_events():
    t, pm, pm1 = series([14, 90, 20, 20])
    assert detect_pm_events(t, pm, pm1, RULE, baseline_ugm3=12) == []
    t, pm, pm1 = series([14, 90, 95, 20], ratio=0.5)  # coarse-dominated (dust, not smoke)
    assert detect_pm_events(t, pm, pm1, RULE, baseline_ugm3=12) == []
    t, pm, _ = series([14, 90, 95, 20])
    assert detect_pm_events(t, pm, [None] * 4, RULE, baseline_ugm3=12) == []


def test_rolling_median_baseline():
    values = [10] * 180 + [80, 90, 85] + [12] * 40
    t, pm, pm1 = series(values)
    (e,) = detect_pm_events(t, pm, pm1, RULE)
    assert e["baseline_ugm3"] == 10 and e["first_index"] == 180
    # a raised background (30) makes the same plume too small
    t, pm, pm1 = series([30] * 180 + [75, 78] + [30] * 10)
    assert detect_pm_events(t, pm, pm1, RULE) == []


def test_report_alarms_violations_periods():
    t, pm, pm1 = series([14, 70, 95, 60, 20] + [15] * 31)
    samples = [{"time": a.isoformat(), "pm2_5_ugm3": b, "pm1_0_ugm3": c} for a, b, c in zip(t, pm, pm1, strict=True)]
    out = run_model("smoke-report", {
        "pm_series": [{"location": "wc-2", "site": "plant-1", "samples": samples, "baseline_ugm3": 12}],
        "events": [
            {"time": "2026-03-02T10:03:00", "location": "wc-2", "detector": "d7"},     # same smoking, merged
            {"time": "2026-03-02T12:00:00", "location": "stairs-a"},
            {"time": "2026-03-02T12:30:00", "location": "stairs-a"},                   # 30 min later: new violation
            {"time": "2026-03-09T08:00:00", "location": "stairs-a"},
            {"time": "2026-03-03T09:00:00", "location": "smoking-room"},
        ],
        "locations": [{"location": "smoking-room", "smoke_free": False}, {"location": "stairs-a", "name": "Stairs A"}],
        "period": "week",
    })
    assert out["total_alarms"] == 5
    assert out["ignored_not_smoke_free"] == 1
    assert out["total_violations"] == 4
    rows = {(r["period"], r["location"]): r["violations"] for r in out["report"]}
    assert rows == {("2026-W10", "wc-2"): 1, ("2026-W10", "stairs-a"): 2, ("2026-W11", "stairs-a"): 1}
    first = out["alarms"][0]
    assert first["location"] == "wc-2" and first["source"] == "pm" and first["time"] == t[1].isoformat()
    wc = next(v for v in out["violations"] if v["location"] == "wc-2")
    assert wc["alarms"] == 2 and wc["sources"] == ["detector", "pm"]
    assert out["by_location"][0] == {"location": "stairs-a", "violations": 3, "alarms": 3, "name": "Stairs A",
                                     "first": "2026-03-02T12:00:00", "last": "2026-03-09T08:00:00"}


def test_timezone_moves_the_day():
    out = run_model("smoke-report", {"events": [{"time": "2026-03-02T22:30:00+00:00", "location": "wc"}],
                                     "timezone": "Europe/Moscow"})
    assert out["report"][0]["period"] == "2026-03-03"
    with pytest.raises(ModelInputError) as err:
        run_model("smoke-report", {"events": [{"time": "2026-03-02T22:30:00", "location": "wc"}], "timezone": "Mars/Base"})
    assert err.value.field == "timezone"


def test_period_keys():
    t = datetime(2026, 1, 1, 12)
    assert (period_key(t, "day"), period_key(t, "week"), period_key(t, "month"), period_key(t, "all")) == (
        "2026-01-01", "2026-W01", "2026-01", "all")


def test_empty_input_gives_empty_report():
    out = run_model("smoke-report", {})
    assert out["total_violations"] == 0 and out["report"] == []
