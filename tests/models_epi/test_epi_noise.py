"""noise-exposure: reference.md §4.3 vectors (V), class boundaries, zone telemetry, properties."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models.noise_exposure import energy_average_db, lex_8h_db, noise_class, noise_dose_percent
from hub.models.registry import ModelInputError, run_model

BANDS = [
    {"class": "2", "upper_db": 80.0}, {"class": "3.1", "upper_db": 85.0}, {"class": "3.2", "upper_db": 95.0},
    {"class": "3.3", "upper_db": 105.0}, {"class": "3.4", "upper_db": 115.0}, {"class": "4"},
]


def seg(level, hours):
    return {"laeq_db": level, "hours": hours}


@pytest.mark.parametrize(
    "segments, lex, klass",
    [
        ([seg(95, 2), seg(85, 4), seg(70, 2)], 89.783, "3.2"),
        ([seg(88, 6)], 86.751, "3.2"),
        ([seg(94, 40 / 60), seg(89, 160 / 60), seg(70, 280 / 60)], 86.812, "3.2"),
        ([seg(80, 8)], 80.000, "2"),
        ([seg(85, 12)], 86.761, "3.2"),
    ],
)
def test_reference_vectors(segments, lex, klass):
    out = run_model("noise-exposure", {"segments": segments})
    assert out["lex_8h_db"] == pytest.approx(lex, abs=5e-4)
    assert out["class"] == klass


def test_dose_vectors():
    out = run_model("noise-exposure", {"segments": [seg(95, 2), seg(85, 4), seg(70, 2)]})
    assert out["dose_percent"]["80"] == pytest.approx(951.2, abs=0.05)
    assert out["dose_percent"]["85"] == pytest.approx(300.8, abs=0.05)
    out = run_model("noise-exposure", {"segments": [seg(80, 8)]})
    assert out["dose_percent"]["80"] == pytest.approx(100.0, abs=1e-9)
    assert out["exceeds_limit"] is False


def test_task_samples_energy_mean():
    assert energy_average_db([92.1, 93.4, 91.8]) == pytest.approx(92.490, abs=5e-4)
    out = run_model("noise-exposure", {"segments": [{"samples_db": [92.1, 93.4, 91.8], "hours": 8}]})
    assert out["lex_8h_db"] == pytest.approx(92.490, abs=5e-4)


@pytest.mark.parametrize(
    "level, rounding, klass",
    [(80.0, 0.1, "2"), (80.04, 0.1, "2"), (80.04, 0.0, "3.1"), (85.0, 0.1, "3.1"), (85.1, 0.1, "3.2"),
     (105.0, 0.1, "3.3"), (115.0, 0.1, "3.4"), (115.1, 0.1, "4"), (60.0, 0.1, "2")],
)
def test_class_boundaries(level, rounding, klass):
    assert noise_class(level, BANDS, rounding) == klass


def test_class_rounding_override_through_model():
    # 80.04 dBA as an 8-hour level: class 2 with the default 0.1 dB rounding, 3.1 without rounding.
    assert run_model("noise-exposure", {"segments": [seg(80.04, 8)]})["class"] == "2"
    assert run_model("noise-exposure", {"segments": [seg(80.04, 8)], "rounding_db": 0})["class"] == "3.1"


def test_zone_telemetry_intervals_alarms_and_roster():
    t0 = datetime(2026, 3, 2, 8, 0)
    press = [{"time": (t0 + timedelta(minutes=m)).isoformat(), "noise_dba": 92.0 if m < 60 else 84.0}
             for m in range(0, 120)]
    press[10]["peak_dbc"] = 139.0
    office = [{"time": (t0 + timedelta(minutes=m)).isoformat(), "laeq_db": 60.0} for m in range(0, 120)]
    out = run_model("noise-exposure", {
        "zones": [{"zone": "press", "readings": press}, {"zone": "office", "readings": office, "limit_db": 55}],
        "workers": [{"worker": "w1", "shift": "A", "segments": [{"zone": "press", "hours": 6}, {"zone": "office", "hours": 2}]}],
    })
    zones = {z["zone"]: z for z in out["zones"]}
    p = zones["press"]
    assert [i["laeq_db"] for i in p["intervals"]] == pytest.approx([92.0, 84.0])
    assert p["intervals"][0]["start"] == "2026-03-02T08:00:00"
    assert p["laeq_db"] == pytest.approx(10 * math.log10((10 ** 9.2 + 10 ** 8.4) / 2))
    assert p["class"] == "3.2"
    assert p["peak_dbc"] == 139.0
    kinds = sorted((a["zone"], a["kind"]) for a in out["alarms"])
    assert kinds == [("office", "laeq"), ("office", "laeq"), ("press", "laeq"), ("press", "laeq"), ("press", "peak")]
    assert zones["office"]["class"] == "2"  # over its own limit, still class 2 by the СОУТ table
    w = out["workers"][0]
    expected = lex_8h_db([p["laeq_db"], 60.0], [6, 2])
    assert w["lex_8h_db"] == pytest.approx(expected)
    assert w["class"] == noise_class(expected, BANDS)


def test_unknown_zone_names_the_field():
    with pytest.raises(ModelInputError) as err:
        run_model("noise-exposure", {"workers": [{"worker": "w", "segments": [{"zone": "nowhere", "hours": 8}]}]})
    assert err.value.field == "workers.0.segments.0.zone"


def test_segment_needs_one_level_source():
    with pytest.raises(ModelInputError) as err:
        run_model("noise-exposure", {"segments": [{"hours": 8}]})
    assert err.value.field.startswith("segments.0")
    with pytest.raises(ModelInputError):
        run_model("noise-exposure", {"segments": [{"laeq_db": 80, "hours": 0}]})


levels = st.floats(min_value=40, max_value=140, allow_nan=False)
hours = st.floats(min_value=0.05, max_value=12, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(levels, hours), min_size=1, max_size=8))
def test_properties_lex(parts):
    ls = [p[0] for p in parts]
    hs = [p[1] for p in parts]
    lex = lex_8h_db(ls, hs)
    # LEX equals LAeq over the shift plus 10·lg(Te/8 h) (single effective duration form, ISO 9612)
    assert lex == pytest.approx(energy_average_db(ls, hs) + 10 * math.log10(sum(hs) / 8), abs=1e-9)
    # +3 dB everywhere doubles the dose (3 dB exchange rate)
    assert noise_dose_percent([x + 10 * math.log10(2) for x in ls], hs, 80) == pytest.approx(2 * noise_dose_percent(ls, hs, 80), rel=1e-9)
    # dose 100 % at 80 dBA criterion <=> LEX 80
    assert noise_dose_percent(ls, hs, 80) == pytest.approx(100 * 10 ** ((lex - 80) / 10), rel=1e-9)
    assert min(ls) + 10 * math.log10(sum(hs) / 8) - 1e-9 <= lex <= max(ls) + 10 * math.log10(sum(hs) / 8) + 1e-9


@given(levels, levels)
def test_class_monotone(a, b):
    order = [b["class"] for b in BANDS]
    lo, hi = sorted((a, b))
    assert order.index(noise_class(lo, BANDS)) <= order.index(noise_class(hi, BANDS))
