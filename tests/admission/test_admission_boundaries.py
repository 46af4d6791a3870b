"""Boundaries of every rule: just below / at / just above each threshold (default rule set)."""

from __future__ import annotations

import pytest
from admission_testlib import APPROVED, at, bp, first, rules_fired, run

# --- blood pressure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "d", "outcome", "fired"),
    [
        # bp.high systolic (≥ 140)
        (139, 80, "admitted", []),
        (140, 80, "retest", ["bp.high"]),
        (141, 80, "retest", ["bp.high"]),
        # bp.high diastolic (≥ 90)
        (130, 89, "admitted", []),
        (130, 90, "retest", ["bp.high"]),
        (130, 91, "retest", ["bp.high"]),
        # bp.low systolic (< 100)
        (99, 70, "retest", ["bp.low"]),
        (100, 70, "admitted", []),
        (101, 70, "admitted", []),
        # bp.low diastolic (< 60)
        (110, 59, "retest", ["bp.low"]),
        (110, 60, "admitted", []),
        (110, 61, "admitted", []),
        # both directions at once
        (150, 55, "retest", ["bp.high", "bp.low"]),
        # bp.severe systolic (≥ 180)
        (179, 90, "retest", ["bp.high"]),
        (180, 90, "needs_medic", ["bp.severe"]),
        (181, 90, "needs_medic", ["bp.severe"]),
        # bp.severe diastolic (≥ 110)
        (150, 109, "retest", ["bp.high"]),
        (150, 110, "needs_medic", ["bp.severe"]),
        (150, 111, "needs_medic", ["bp.severe"]),
    ],
)
def test_bp_bands(s, d, outcome, fired):
    res = run(first(**bp(s, d)))
    assert res.outcome == outcome
    assert rules_fired(res) == fired
    if outcome == "retest":
        assert res.retest_not_before_minute == 20


@pytest.mark.parametrize(
    ("p", "outcome"),
    [(49, "retest"), (50, "admitted"), (51, "admitted"), (99, "admitted"), (100, "admitted"), (101, "retest")],
)
def test_pulse_band(p, outcome):
    res = run(first(pulse_bpm=p))
    assert res.outcome == outcome
    assert rules_fired(res) == ([] if outcome == "admitted" else ["pulse"])


def test_pulse_retests_like_bp():
    a0 = first(pulse_bpm=105)
    assert run(a0, at(20, pulse_bpm=104)).retest_not_before_minute == 40
    res = run(a0, at(20, pulse_bpm=104), at(40, pulse_bpm=103))
    assert (res.outcome, rules_fired(res)) == ("needs_medic", ["pulse"] * 3)
    assert run(a0, at(20, pulse_bpm=88)).outcome == "admitted"


@pytest.mark.parametrize(("t", "outcome"), [(37.0, "admitted"), (37.1, "needs_medic"), (37.2, "needs_medic")])
def test_temperature(t, outcome):
    res = run(first(temperature_c=t))
    assert res.outcome == outcome
    assert rules_fired(res) == ([] if outcome == "admitted" else ["temp"])


@pytest.mark.parametrize(("s", "outcome"), [(93, "needs_medic"), (94, "admitted"), (95, "admitted")])
def test_spo2_low(s, outcome):
    res = run(first(spo2_percent=s))
    assert res.outcome == outcome
    assert rules_fired(res) == ([] if outcome == "admitted" else ["spo2.low"])


# --- breath alcohol ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("v", "outcome", "fired"),
    [
        (0.0, "admitted", []),
        (0.0009, "admitted", []),
        (0.001, "retest", ["alcohol.trace"]),
        (0.002, "retest", ["alcohol.trace"]),
        (0.159, "retest", ["alcohol.trace"]),
        (0.16, "retest", ["alcohol"]),
        (0.161, "retest", ["alcohol"]),
    ],
)
def test_alcohol_first_test(v, outcome, fired):
    res = run(first(brac_mg_l=v))
    assert (res.outcome, rules_fired(res)) == (outcome, fired)
    if outcome == "retest":
        assert (res.retest_not_before_minute, res.retest_not_after_minute) == (15, 20)


@pytest.mark.parametrize(
    ("second", "outcome", "last_rule"),
    [
        (0.159, "needs_medic", "alcohol.unconfirmed"),
        (0.16, "not_admitted", "alcohol"),
        (0.161, "not_admitted", "alcohol"),
        (0.0, "needs_medic", "alcohol.unconfirmed"),
    ],
)
def test_alcohol_confirmation_threshold(second, outcome, last_rule):
    res = run(first(brac_mg_l=0.2), at(15, brac_mg_l=second))
    assert res.outcome == outcome
    assert rules_fired(res)[-1] == last_rule
    assert res.notify_employer is (outcome == "not_admitted")


@pytest.mark.parametrize(
    ("second", "outcome", "fired"),
    [
        (0.0, "admitted", ["alcohol.trace"]),
        (0.0009, "admitted", ["alcohol.trace"]),
        (0.001, "needs_medic", ["alcohol.trace", "alcohol.trace"]),
        (0.05, "needs_medic", ["alcohol.trace", "alcohol.trace"]),
        (0.16, "retest", ["alcohol.trace", "alcohol"]),  # a positive after a trace needs its own confirmation
    ],
)
def test_alcohol_trace_repeat(second, outcome, fired):
    res = run(first(brac_mg_l=0.05), at(15, brac_mg_l=second))
    assert (res.outcome, rules_fired(res)) == (outcome, fired)
    if outcome == "retest":
        assert res.retest_not_before_minute == 30


@pytest.mark.parametrize(
    ("minute", "outcome", "fired"),
    [
        (14, "retest", ["alcohol", "retest.interval"]),
        (15, "not_admitted", ["alcohol", "alcohol"]),
        (16, "not_admitted", ["alcohol", "alcohol"]),
        (19, "not_admitted", ["alcohol", "alcohol"]),
        (20, "not_admitted", ["alcohol", "alcohol"]),
        (21, "needs_medic", ["alcohol", "alcohol.window"]),
    ],
)
def test_alcohol_confirmation_window(minute, outcome, fired):
    res = run(first(brac_mg_l=0.2), at(minute, brac_mg_l=0.2))
    assert (res.outcome, rules_fired(res)) == (outcome, fired)
    if outcome == "retest":
        assert res.retest_not_before_minute == 15


def test_alcohol_premature_then_in_window():
    res = run(first(brac_mg_l=0.2), at(10, brac_mg_l=0.0), at(15, brac_mg_l=0.18))
    assert res.outcome == "not_admitted"
    assert rules_fired(res) == ["alcohol", "retest.interval", "alcohol"]


def test_alcohol_trace_disabled_by_rule_set():
    rules = _with(lambda data: data["rules"]["alcohol_trace"].__setitem__("enabled", False))
    res = run(first(brac_mg_l=0.05), rules=rules)
    assert res.outcome == "admitted" and res.fired == []


def test_alcohol_over_range_then_zero_is_not_admitted():
    res = run(first(brac_mg_l=2.5), at(1, brac_mg_l=0.0))
    assert res.outcome == "needs_medic"
    assert rules_fired(res) == ["plausibility.alcohol", "alcohol.unconfirmed"]


def test_alcohol_over_range_then_positive_follows_confirmation():
    res = run(first(brac_mg_l=2.5), at(1, brac_mg_l=0.3))
    assert (res.outcome, res.retest_not_before_minute) == ("retest", 16)


# --- re-test procedure ---------------------------------------------------------------------------


@pytest.mark.parametrize(("minute", "outcome"), [(19, "retest"), (20, "admitted"), (21, "admitted")])
def test_retest_interval(minute, outcome):
    res = run(first(**bp(150, 92)), at(minute, **bp(130, 80)))
    assert res.outcome == outcome
    if outcome == "retest":
        assert res.retest_not_before_minute == 20
        assert rules_fired(res) == ["bp.high", "retest.interval"]
    else:
        assert rules_fired(res) == ["bp.high"]


def test_retest_interval_counts_from_previous_accepted_reading():
    # premature reading at 12 is not counted: the next due time stays 20, then 20 + 20
    res = run(first(**bp(150, 92)), at(12, **bp(150, 92)), at(20, **bp(150, 92)))
    assert (res.outcome, res.retest_not_before_minute) == ("retest", 40)


def test_premature_reading_still_screened_for_severe():
    res = run(first(**bp(150, 92)), at(5, **bp(190, 100)))
    assert res.outcome == "needs_medic"
    assert rules_fired(res) == ["bp.high", "retest.interval", "bp.severe"]


@pytest.mark.parametrize(("n_readings", "outcome"), [(2, "admitted"), (3, "needs_medic"), (4, "needs_medic")])
def test_retest_count(n_readings, outcome):
    attempts = [first(**bp(150, 92))] + [at(20 * i, **bp(150, 92)) for i in range(1, n_readings)]
    res = run(*attempts)
    expected = "retest" if n_readings < 3 else outcome
    assert res.outcome == expected
    assert ("retest.count" in rules_fired(res)) is (n_readings == 4)


def test_remeasure_does_not_start_the_clock():
    # an implausible reading at 20 is re-measured at 21; that accepted reading is re-test 1
    res = run(first(**bp(150, 92)), at(20, **bp(300, 100)), at(21, **bp(150, 92)))
    assert (res.outcome, res.retest_not_before_minute) == ("retest", 41)


# --- plausibility (reference §8) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "d", "outcome"),
    [
        (59, 40, "remeasure"),
        (60, 40, "retest"),  # plausible, bp.low
        (61, 40, "retest"),
        (279, 130, "needs_medic"),  # plausible, severe
        (280, 130, "needs_medic"),
        (281, 131, "remeasure"),
        (90, 29, "remeasure"),
        (90, 30, "retest"),
        (90, 31, "retest"),
        (250, 179, "needs_medic"),
        (250, 180, "needs_medic"),
        (250, 181, "remeasure"),
        (100, 91, "remeasure"),  # pulse pressure 9
        (100, 90, "retest"),  # pulse pressure 10, DBP 90 → bp.high
        (230, 80, "needs_medic"),  # pulse pressure 150
        (231, 80, "remeasure"),  # pulse pressure 151
        (120, 125, "remeasure"),  # SBP ≤ DBP (reference §8 vector)
        (120, 120, "remeasure"),
    ],
)
def test_plausibility_bp(s, d, outcome):
    res = run(first(**bp(s, d)))
    assert res.outcome == outcome
    assert ("plausibility.bp" in rules_fired(res)) is (outcome == "remeasure")


def test_bp_device_flag_remeasure():
    # reference §8 vector: 138/88 with "cuff loose + movement" → re-measure
    res = run(first(**bp(138, 88), invalid={"systolic_mmhg": "cuff loose + body movement"}))
    assert res.outcome == "remeasure"
    assert rules_fired(res) == ["plausibility.bp"]
    assert res.remeasure == ["systolic_mmhg", "diastolic_mmhg"]
    assert "cuff loose" in res.reasons[0].en and "cuff loose" in res.reasons[0].ru


def test_null_value_is_device_error():
    res = run(first(spo2_percent=None))
    assert res.outcome == "remeasure"
    assert rules_fired(res) == ["plausibility.spo2"]


@pytest.mark.parametrize(
    ("p", "outcome"),
    [(29, "remeasure"), (30, "needs_medic"), (31, "needs_medic"), (219, "needs_medic"), (220, "needs_medic"), (221, "remeasure"),
     (255, "remeasure")],
)
def test_plausibility_pulse(p, outcome):
    assert run(first(pulse_bpm=p)).outcome == outcome


@pytest.mark.parametrize(("ox", "outcome"), [(57, "admitted"), (56, "remeasure"), (87, "admitted"), (88, "remeasure")])
def test_oximeter_cuff_pulse_difference(ox, outcome):
    res = run(first(pulse_bpm=72, oximeter_pulse_bpm=ox))
    assert res.outcome == outcome


@pytest.mark.parametrize(
    ("t", "outcome"),
    [(33.1, "remeasure"), (33.9, "remeasure"), (34.0, "remeasure"), (34.1, "remeasure"), (42.4, "needs_medic"),
     (42.5, "needs_medic"), (42.6, "remeasure")],
)
def test_plausibility_temperature(t, outcome):
    assert run(first(temperature_c=t)).outcome == outcome


@pytest.mark.parametrize(
    ("s", "outcome"),
    [(69.9, "remeasure"), (70, "needs_medic"), (70.1, "needs_medic"), (99.9, "admitted"), (100, "admitted"),
     (100.1, "remeasure"), (127, "remeasure")],
)
def test_plausibility_spo2(s, outcome):
    assert run(first(spo2_percent=s)).outcome == outcome


@pytest.mark.parametrize(("pi", "outcome"), [(0.29, "remeasure"), (0.3, "admitted"), (0.31, "admitted")])
def test_perfusion_index(pi, outcome):
    assert run(first(spo2_percent=97, perfusion_index_percent=pi)).outcome == outcome


@pytest.mark.parametrize(
    ("v", "outcome"),
    [(-0.01, "remeasure"), (0.0, "admitted"), (1.999, "retest"), (2.0, "retest"), (2.001, "remeasure")],
)
def test_plausibility_alcohol(v, outcome):
    assert run(first(brac_mg_l=v)).outcome == outcome


def test_alcohol_blow_error_flag():
    res = run(first(brac_mg_l=None, invalid={"brac_mg_l": "E01 INSUFFICIENT_VOLUME"}))
    assert res.outcome == "remeasure" and res.remeasure == ["brac_mg_l"]


@pytest.mark.parametrize(("n_bad", "outcome"), [(1, "remeasure"), (2, "remeasure"), (3, "needs_medic")])
def test_device_no_valid_reading(n_bad, outcome):
    attempts = [first(temperature_c=33.0)] + [at(i, temperature_c=33.0) for i in range(1, n_bad)]
    res = run(*attempts)
    assert res.outcome == outcome
    assert ("device.no_valid_reading" in rules_fired(res)) is (n_bad == 3)


def test_valid_reading_resets_the_remeasure_count():
    res = run(first(temperature_c=33.0), at(1, temperature_c=33.0), at(2, temperature_c=36.6))
    assert res.outcome == "admitted"
    assert rules_fired(res) == ["plausibility.temp", "plausibility.temp"]


# --- individual norms ----------------------------------------------------------------------------

NORM = {"systolic_mmhg": 150, "diastolic_mmhg": 95, **APPROVED}  # band 135–165 / 85.5–104.5, ceiling 160/100


@pytest.mark.parametrize(
    ("s", "d", "outcome", "fired"),
    [
        (134, 94, "retest", ["bp.low"]),  # below the individual band (replace mode narrows)
        (135, 94, "admitted", ["bp.individual"]),
        (136, 94, "admitted", ["bp.individual"]),
        (159, 94, "admitted", ["bp.individual"]),
        (160, 94, "needs_medic", ["bp.individual"]),  # the ceiling (issue 13, error 4), inside the ±10 % band
        (166, 94, "needs_medic", ["bp.individual"]),
        (150, 85.4, "retest", ["bp.low"]),
        (150, 85.5, "admitted", ["bp.individual"]),
        (150, 99.9, "admitted", ["bp.individual"]),
        (150, 100, "needs_medic", ["bp.individual"]),  # ceiling DBP 100 lies inside the band 85.5–104.5
    ],
)
def test_bp_individual_band(s, d, outcome, fired):
    res = run(first(**bp(s, d)), individual_norm=NORM)
    assert (res.outcome, rules_fired(res)) == (outcome, fired)
    if outcome == "retest":
        assert res.fired[0].detail["basis"] == "individual"
    if outcome == "needs_medic":
        assert res.fired[0].detail["why"] == "ceiling" and res.fired[0].effect == "needs_medic"


def test_individual_norm_never_overrides_severe():
    res = run(first(**bp(182, 104)), individual_norm={"systolic_mmhg": 175, "diastolic_mmhg": 100, **APPROVED})
    assert (res.outcome, rules_fired(res)) == ("needs_medic", ["bp.severe"])


def test_individual_norm_narrows_in_replace_mode_and_not_in_widen_only():
    low_norm = {"systolic_mmhg": 110, "diastolic_mmhg": 70, **APPROVED}  # band 99–121 / 63–77
    res = run(first(**bp(128, 82)), individual_norm=low_norm)
    assert (res.outcome, rules_fired(res)) == ("retest", ["bp.high"])
    widen = _with(lambda data: data["rules"]["bp_individual"].__setitem__("mode", "widen_only"))
    assert run(first(**bp(128, 82)), individual_norm=low_norm, rules=widen).outcome == "admitted"
    # widen_only still widens
    res2 = run(first(**bp(152, 94)), individual_norm=NORM, rules=widen)
    assert (res2.outcome, rules_fired(res2)) == ("admitted", ["bp.individual"])
    # and outside the band the population rule applies
    res3 = run(first(**bp(150, 106)), individual_norm=NORM, rules=widen)
    assert res3.outcome == "needs_medic" and res3.fired[0].detail["why"] == "ceiling"
    res4 = run(first(**bp(130, 84)), individual_norm=NORM, rules=widen)
    assert (res4.outcome, res4.fired) == ("admitted", [])  # population-normal, below the worker's own band


@pytest.mark.parametrize(("n", "outcome"), [(9, "retest"), (10, "admitted"), (11, "admitted"), (None, "retest")])
def test_individual_norm_min_readings(n, outcome):
    norm = {k: v for k, v in {**NORM, "n_readings": n}.items() if v is not None}
    res = run(first(**bp(152, 94)), individual_norm=norm)
    assert res.outcome == outcome
    if outcome == "retest":  # issue 13, error 4: a norm with no count (None) is no longer applied
        assert rules_fired(res) == ["bp.individual", "bp.high"]
        assert res.fired[0].effect == "ignored"
        assert res.fired[0].detail["why"] == ("too_few_readings" if n == 9 else "no_readings_count")


def test_individual_norm_disabled():
    off = _with(lambda data: data["rules"]["bp_individual"].__setitem__("enabled", False))
    assert run(first(**bp(152, 94)), individual_norm=NORM, rules=off).outcome == "retest"


@pytest.mark.parametrize(
    ("p", "outcome", "fired"),
    [
        (49.4, "retest", ["pulse"]),  # below the individual band 49.5–60.5 (norm 55 ±10 %)
        (49.5, "admitted", ["pulse.individual"]),  # population says < 50, the norm accepts it
        (50, "admitted", []),
        (60.5, "admitted", []),
        (60.6, "retest", ["pulse"]),  # population-normal, above the worker's own band (replace mode)
    ],
)
def test_pulse_individual_norm(p, outcome, fired):
    res = run(first(pulse_bpm=p), individual_norm={"pulse_bpm": 55, **APPROVED})
    assert (res.outcome, rules_fired(res)) == (outcome, fired)


# --- required measurements, complaints, signs ------------------------------------------------------


@pytest.mark.parametrize("exam_type", ["pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift"])
@pytest.mark.parametrize(
    ("drop", "group"),
    [(("systolic_mmhg", "diastolic_mmhg"), "bp"), (("pulse_bpm",), "pulse"), (("temperature_c",), "temperature"),
     (("brac_mg_l",), "alcohol")],
)
def test_required_missing_never_admitted(exam_type, drop, group):
    res = run(first(**{f: ... for f in drop}), exam_type=exam_type)
    assert res.outcome == "remeasure"
    assert rules_fired(res) == ["required.missing"]
    assert res.remeasure == list(drop)
    assert res.fired[0].detail["group"] == group


def test_required_missing_can_be_needs_medic():
    rules = _with(lambda data: data["rules"]["required_missing"].__setitem__("outcome", "needs_medic"))
    assert run(first(temperature_c=...), rules=rules).outcome == "needs_medic"


def test_spo2_not_required():
    assert run(first()).outcome == "admitted"


def test_complaints_named():
    res = run(first(), complaints=["головная боль", "chest pain"])
    assert res.outcome == "needs_medic"
    assert rules_fired(res) == ["complaints", "complaints"]
    assert [f.value for f in res.fired] == ["головная боль", "chest pain"]
    assert "головная боль" in res.summary["ru"] and "chest pain" in res.summary["en"]


def test_signs_of_intoxication_with_negative_breath_test():
    res = run(first(), signs_of_intoxication=True)
    assert (res.outcome, rules_fired(res)) == ("needs_medic", ["psychoactive"])
    assert res.fired[0].detail["urine_test"] == "requested"


# --- combining ------------------------------------------------------------------------------------


def test_not_admitted_beats_needs_medic():
    res = run(first(brac_mg_l=0.3, temperature_c=37.5), at(15, brac_mg_l=0.3))
    assert res.outcome == "not_admitted"
    assert set(rules_fired(res)) == {"alcohol", "temp"}


def test_needs_medic_beats_pending_alcohol_confirmation():
    res = run(first(**bp(185, 100), brac_mg_l=0.3))
    assert res.outcome == "needs_medic"
    assert [(p.group, p.action, p.not_before_minute) for p in res.pending] == [("alcohol", "retest", 15)]


def test_remeasure_beats_retest_and_lists_pending():
    res = run(first(**bp(150, 92), temperature_c=33.0))
    assert res.outcome == "remeasure"
    assert res.remeasure == ["temperature_c"]
    assert {(p.group, p.action) for p in res.pending} == {("bp", "retest"), ("temperature", "remeasure")}


def test_earliest_retest_reported():
    res = run(first(**bp(150, 92), brac_mg_l=0.2))
    assert (res.outcome, res.retest_not_before_minute, res.retest_not_after_minute) == ("retest", 15, 20)
    res2 = run(first(**bp(150, 92), brac_mg_l=0.2), at(15, brac_mg_l=0.0))
    assert res2.outcome == "needs_medic"  # unconfirmed alcohol


def _with(mutate):
    """The default rule set with one change (through the validating parser)."""
    import tomllib

    from edge_agent.admission import DEFAULT_RULES_PATH, parse_rule_set

    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    mutate(data)
    return parse_rule_set(data)
