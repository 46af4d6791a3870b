"""Reference vectors K1–K10 (shared/domain/reference.md §1.8), verbatim.

Quantities a vector does not mention take K1's normal values at minute 0
(128/82, pulse 72, 36.6 °C, alcohol 0.000 mg/L), because the exam requires them.
"""

from __future__ import annotations

from admission_testlib import APPROVED, at, bp, first, rules_fired, run


def test_k1_all_normal_admitted():
    d = run(first(systolic_mmhg=128, diastolic_mmhg=82, pulse_bpm=72, temperature_c=36.6, brac_mg_l=0.000),
            complaints=[])
    assert d.outcome == "admitted"
    assert d.fired == []
    assert d.retest_not_before_minute is None
    assert d.rule_set_version == "2026.2.0"


def test_k2_bp_high_three_times_needs_medic_after_second_retest():
    a0 = first(**bp(152, 94))
    d0 = run(a0)
    assert (d0.outcome, d0.retest_not_before_minute, rules_fired(d0)) == ("retest", 20, ["bp.high"])
    d1 = run(a0, at(20, **bp(146, 92)))
    assert (d1.outcome, d1.retest_not_before_minute, rules_fired(d1)) == ("retest", 40, ["bp.high", "bp.high"])
    d2 = run(a0, at(20, **bp(146, 92)), at(40, **bp(144, 90)))
    assert d2.outcome == "needs_medic"
    assert rules_fired(d2) == ["bp.high", "bp.high", "bp.high"]
    assert [f.minute for f in d2.fired] == [0, 20, 40]
    assert d2.medic_queue and not d2.notify_employer


def test_k3_individual_norm_admits_at_first_reading():
    norm = {"systolic_mmhg": 150, "diastolic_mmhg": 95, **APPROVED}
    d = run(first(**bp(152, 94)), individual_norm=norm)
    assert d.outcome == "admitted"
    assert rules_fired(d) == ["bp.individual"]
    det = d.fired[0].detail
    assert det["band_low"] == [135, 85.5] and det["band_high"] == [165, 104.5]
    # the K2 follow-up readings are inside the norm as well
    d_all = run(first(**bp(152, 94)), at(20, **bp(146, 92)), at(40, **bp(144, 90)), individual_norm=norm)
    assert d_all.outcome == "admitted"
    assert set(rules_fired(d_all)) == {"bp.individual"}


def test_k4_retest_at_12_minutes_refused():
    d = run(first(**bp(152, 94)), at(12, **bp(146, 92)))
    assert d.outcome == "retest"
    assert d.retest_not_before_minute == 20
    assert rules_fired(d) == ["bp.high", "retest.interval"]
    refused = d.fired[1]
    assert refused.value == 12 and refused.detail["not_before_minute"] == 20


def test_k5_alcohol_confirmed_not_admitted():
    d0 = run(first(brac_mg_l=0.21))
    assert d0.outcome == "retest"
    assert (d0.retest_not_before_minute, d0.retest_not_after_minute) == (15, 20)
    assert rules_fired(d0) == ["alcohol"]
    d = run(first(brac_mg_l=0.21), at(15, brac_mg_l=0.19))
    assert d.outcome == "not_admitted"
    assert rules_fired(d) == ["alcohol", "alcohol"]
    assert d.notify_employer is True
    assert d.medic_queue is True
    assert "0,190" in d.summary["ru"] and "0.190" in d.summary["en"]


def test_k6_trace_then_zero_admitted_with_trace_flag():
    d0 = run(first(brac_mg_l=0.05))
    assert (d0.outcome, d0.retest_not_before_minute, rules_fired(d0)) == ("retest", 15, ["alcohol.trace"])
    d = run(first(brac_mg_l=0.05), at(15, brac_mg_l=0.000))
    assert d.outcome == "admitted"
    assert rules_fired(d) == ["alcohol.trace"]
    assert not d.notify_employer


def test_k7_severe_bp_needs_medic_immediately():
    d = run(first(**bp(184, 112)))
    assert d.outcome == "needs_medic"
    assert rules_fired(d) == ["bp.severe"]
    assert d.retest_not_before_minute is None


def test_k8_temperature():
    d = run(first(temperature_c=37.4))
    assert d.outcome == "needs_medic"
    assert rules_fired(d) == ["temp"]


def test_k9_spo2_invalid_frame_remeasure_no_decision():
    d = run(first(spo2_percent=127))
    assert d.outcome == "remeasure"
    assert rules_fired(d) == ["plausibility.spo2"]
    assert d.remeasure == ["spo2_percent"]
    # the same frame with the BCI pulse 255 as the oximeter pulse: still only a re-measurement
    d2 = run(first(spo2_percent=127, oximeter_pulse_bpm=255))
    assert d2.outcome == "remeasure"


def test_k10_third_retest_refused_needs_medic():
    d = run(first(**bp(152, 94)), at(20, **bp(146, 92)), at(40, **bp(144, 90)), at(60, **bp(142, 91)))
    assert d.outcome == "needs_medic"
    assert rules_fired(d) == ["bp.high", "bp.high", "bp.high", "retest.count"]
    # a 3rd re-test is refused even when the 2nd re-test was in range
    d2 = run(first(**bp(152, 94)), at(20, **bp(146, 92)), at(40, **bp(130, 80)), at(60, **bp(130, 80)))
    assert d2.outcome == "needs_medic"
    assert rules_fired(d2)[-1] == "retest.count"
