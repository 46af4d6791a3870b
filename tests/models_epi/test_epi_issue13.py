"""Issue 13, errors 5 and 6: zone noise class by shift; input sanity of exposure, epi and Rt."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hub.models.registry import ModelInputError, run_model


def day_of_noise(shift_level=86.0, quiet_level=50.0, start_hour=8, hours=8):
    """24 hourly readings: `hours` hours at shift_level from start_hour, the rest quiet."""
    t0 = datetime(2026, 3, 2, 0, 0)
    return [{"time": (t0 + timedelta(hours=h)).isoformat(), "laeq_db": shift_level
             if start_hour <= h < start_hour + hours else quiet_level, "duration_s": 3600} for h in range(24)]


def test_zone_class_comes_from_the_shift_not_the_24h_average():
    out = run_model("noise-exposure", {"zones": [{"zone": "press", "readings": day_of_noise(),
                                                  "shifts": [{"start": "08:00", "hours": 8, "name": "day"}]}]})
    z = out["zones"][0]
    assert z["laeq_db"] == pytest.approx(81.2, abs=0.05)  # the 24-hour average
    assert z["class_24h_average"] == "3.1"  # what the zone got before the fix
    assert z["class"] == "3.2" and z["lex_8h_db"] == pytest.approx(86.0)
    day = [s for s in z["shifts"] if s["shift"] == "day" and s["start"].startswith("2026-03-02")]
    assert day[0]["lex_8h_db"] == pytest.approx(86.0) and day[0]["covered_hours"] == pytest.approx(8)


def test_zone_without_pattern_uses_the_loudest_8_hours():
    z = run_model("noise-exposure", {"zones": [{"zone": "press", "readings": day_of_noise()}]})["zones"][0]
    assert z["class"] == "3.2" and z["lex_8h_db"] == pytest.approx(86.0)
    assert "loudest" in z["class_basis"]


def test_twelve_hour_shift_scales_to_8h():
    readings = day_of_noise(shift_level=85.0, start_hour=8, hours=12)
    z = run_model("noise-exposure", {"zones": [{"zone": "z", "readings": readings,
                                                "shifts": [{"start": "08:00", "hours": 12}]}]})["zones"][0]
    assert z["lex_8h_db"] == pytest.approx(86.761, abs=1e-3)  # reference.md §4.3: 85 dBA 12 h -> 86.761
    assert z["class"] == "3.2"


def test_night_shift_crossing_midnight():
    readings = day_of_noise(shift_level=50.0, quiet_level=88.0, start_hour=6, hours=16)  # loud 22:00-06:00
    z = run_model("noise-exposure", {"zones": [{"zone": "z", "readings": readings,
                                                "shifts": [{"start": "22:00", "hours": 8}]}]})["zones"][0]
    assert z["class"] == "3.2"


def test_worker_in_a_zone_gets_the_shift_level():
    out = run_model("noise-exposure", {
        "zones": [{"zone": "press", "readings": day_of_noise(), "shifts": [{"start": "08:00", "hours": 8}]}],
        "workers": [{"worker": "w", "segments": [{"zone": "press", "hours": 8}]}]})
    assert out["workers"][0]["lex_8h_db"] == pytest.approx(86.0) and out["workers"][0]["class"] == "3.2"


def test_pattern_with_no_readings_is_refused():
    with pytest.raises(ModelInputError) as err:
        run_model("noise-exposure", {"zones": [{"zone": "z", "readings": day_of_noise()[:3],
                                                "shifts": [{"start": "12:00", "hours": 4}]}]})
    assert err.value.field == "zones.0.shifts"


def test_lamax_and_peak_are_flagged():
    readings = day_of_noise()
    readings[9]["lamax_db"] = 112.0
    readings[10]["peak_dbc"] = 138.0
    out = run_model("noise-exposure", {"zones": [{"zone": "z", "readings": readings}]})
    kinds = {a["kind"] for a in out["alarms"]}
    assert {"lamax", "peak"} <= kinds


# --- error 6: input sanity ------------------------------------------------------------------------------


def test_noise_segments_longer_than_a_day_are_refused():
    with pytest.raises(ModelInputError) as err:
        run_model("noise-exposure", {"segments": [{"laeq_db": 85, "hours": 16}, {"laeq_db": 80, "hours": 10}]})
    assert err.value.field == "segments" and "26" in err.value.message


def test_exposure_segments_longer_than_a_day_are_refused():
    with pytest.raises(ModelInputError) as err:
        run_model("exposure-stats", {"segments": [{"concentration": 1, "hours": 20}, {"concentration": 1, "hours": 5}]})
    assert err.value.field == "segments"


@pytest.mark.parametrize(("group", "field"), [
    ({"name": "g", "population": 100, "cases": 60, "new_cases": 60, "existing_cases": 50}, "groups.0.new_cases"),
    ({"name": "g", "population": 100, "cases": 30, "new_cases": 20, "existing_cases": 20}, "groups.0.cases"),
    ({"name": "g", "population": 100, "cases": 10, "new_cases": 20}, "groups.0.new_cases"),
])
def test_epi_counts_that_disagree_are_refused(group, field):
    with pytest.raises(ModelInputError) as err:
        run_model("epi", {"groups": [group]})
    assert err.value.field == field


def test_rt_window_without_cases_has_no_estimate():
    incidence = [5, 8, 6, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    out = run_model("rt", {"incidence": incidence, "serial_interval": {"mean": 2.6, "sd": 1.5}})
    empty = [s for s in out["not_estimable"] if s.get("no_estimate")]
    assert empty, out["not_estimable"]
    assert all(s["cases"] == 0 and "prior" in s["reason"] for s in empty)
    assert all(e["mean"] != pytest.approx(5.0) for e in out["estimates"])
    last_window = (len(incidence) - 6, len(incidence))
    assert last_window in {(s["t_start"], s["t_end"]) for s in empty}
