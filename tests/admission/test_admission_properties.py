"""Property tests (hypothesis) of the pre-decision."""

from __future__ import annotations

import json

from admission_testlib import NORMAL, RULES, first
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.admission import decide

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEVERITY = {"admitted": 0, "retest": 1, "remeasure": 2, "needs_medic": 3, "not_admitted": 4}

# plausible values (reference §8 ranges) and implausible ones
PLAUSIBLE = {
    "systolic_mmhg": st.floats(90, 260),
    "pulse_bpm": st.floats(30, 220),
    "temperature_c": st.floats(34.0, 42.5),
    "spo2_percent": st.floats(70, 100),
    "brac_mg_l": st.floats(0, 2.0),
}
IMPLAUSIBLE = {
    "systolic_mmhg": st.one_of(st.floats(0, 59.9), st.floats(280.1, 400)),
    "diastolic_mmhg": st.one_of(st.floats(0, 29.9), st.floats(180.1, 300)),
    "pulse_bpm": st.one_of(st.floats(0, 29.9), st.floats(220.1, 400), st.just(255.0)),
    "temperature_c": st.one_of(st.floats(-10, 33.99), st.floats(42.51, 60)),
    "spo2_percent": st.one_of(st.floats(0, 69.9), st.floats(100.01, 130), st.just(127.0)),
    "brac_mg_l": st.one_of(st.floats(-1, -0.001), st.floats(2.001, 5)),
}


@st.composite
def plausible_attempt(draw, minute=0):
    s = draw(PLAUSIBLE["systolic_mmhg"])
    d = draw(st.floats(max(30, s - 150), min(180, s - 10)))
    a = {"minute": minute, "systolic_mmhg": s, "diastolic_mmhg": d}
    for k in ("pulse_bpm", "temperature_c", "brac_mg_l"):
        a[k] = draw(PLAUSIBLE[k])
    if draw(st.booleans()):
        a["spo2_percent"] = draw(PLAUSIBLE["spo2_percent"])
    return a


any_number = st.one_of(st.floats(-50, 500, allow_nan=False), st.integers(-50, 500), st.none())


@st.composite
def any_exam(draw):
    """Arbitrary (validated) exams: random fields, random values, increasing minutes."""
    n = draw(st.integers(1, 6))
    minute = 0.0
    attempts = []
    fields = ["systolic_mmhg", "pulse_bpm", "temperature_c", "spo2_percent", "brac_mg_l"]
    for _ in range(n):
        chosen = draw(st.lists(st.sampled_from(fields), min_size=1, unique=True))
        a: dict = {"minute": minute}
        for f in chosen:
            a[f] = draw(any_number)
            if f == "systolic_mmhg":
                a["diastolic_mmhg"] = draw(any_number)
        if draw(st.booleans()):
            a["oximeter_pulse_bpm"] = draw(any_number)
        attempts.append(a)
        minute += draw(st.sampled_from([0, 1, 5, 12, 14, 15, 19, 20, 21, 25, 40]))
    exam = {"exam_type": draw(st.sampled_from(["pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift"])),
            "attempts": attempts}
    if draw(st.booleans()):
        s = draw(st.floats(95, 175))
        exam["individual_norm"] = {"systolic_mmhg": s, "diastolic_mmhg": draw(st.floats(55, s - 20))}
    if draw(st.integers(0, 4)) == 0:
        exam["complaints"] = ["dizziness"]
    return exam


@SETTINGS
@given(any_exam())
def test_output_contract_holds_for_any_exam(exam):
    d = decide(exam, RULES)
    out = d.to_json_dict()
    json.dumps(out, ensure_ascii=False)  # serialisable
    assert out["rule_set_version"] == RULES.version
    assert out["outcome"] in SEVERITY
    for f in out["fired"]:
        assert {"rule", "source", "value"} <= set(f) and f["source"]
    # a refusal (and any non-admission) always says why: at least one fired rule with that effect
    if d.outcome != "admitted":
        assert any(f.effect == d.outcome for f in d.fired), out
    if d.outcome == "retest":
        assert isinstance(out["retest_not_before_minute"], (int, float))
    else:
        assert "retest_not_before_minute" not in out
    if d.outcome == "remeasure":
        assert d.remeasure
    # reasons: one per fired rule, in both languages, non-empty
    assert [r.rule for r in d.reasons] == [f.rule for f in d.fired]
    assert all(r.ru and r.en for r in d.reasons)
    assert d.summary["ru"] and d.summary["en"]
    assert d.medic_queue == (d.outcome in ("needs_medic", "not_admitted"))


@SETTINGS
@given(plausible_attempt(), st.sampled_from(sorted(IMPLAUSIBLE)), st.data())
def test_any_implausible_value_remeasures_never_decides(attempt, field, data):
    attempt = dict(attempt)
    attempt[field] = data.draw(IMPLAUSIBLE[field])
    d = decide({"exam_type": "pre_shift", "attempts": [attempt]}, RULES)
    assert d.outcome != "admitted"
    # a single attempt cannot be refused; an implausible value asks for a re-measurement,
    # unless another (valid) reading of the same attempt already holds the worker for the medic
    assert d.outcome in ("remeasure", "needs_medic")
    group = {"systolic_mmhg": "bp", "diastolic_mmhg": "bp", "pulse_bpm": "pulse", "temperature_c": "temp",
             "spo2_percent": "spo2", "brac_mg_l": "alcohol"}[field]
    assert f"plausibility.{group}" in [f.rule for f in d.fired]
    assert all(f.effect != "not_admitted" for f in d.fired)


@SETTINGS
@given(plausible_attempt(), st.sampled_from(sorted(IMPLAUSIBLE)), st.data())
def test_device_flag_remeasures(attempt, field, data):
    attempt = dict(attempt, invalid={field: "device error"})
    d = decide({"exam_type": "pre_shift", "attempts": [attempt]}, RULES)
    assert d.outcome in ("remeasure", "needs_medic")


bac = st.floats(0, 4.0)
times = st.sampled_from([14, 15, 17, 20, 21])


@SETTINGS
@given(bac, bac, st.floats(0, 1.0), st.floats(0, 1.0), times)
def test_raising_bac_never_admits_what_was_refused(v1, v2, dv1, dv2, t):
    def outcome(a, b):
        return decide({"exam_type": "pre_shift", "attempts": [first(brac_mg_l=a), {"minute": t, "brac_mg_l": b}]},
                      RULES).outcome

    before, after = outcome(v1, v2), outcome(v1 + dv1, v2 + dv2)
    if before != "admitted":
        assert after != "admitted", (v1, v2, dv1, dv2, t)
    if before == "not_admitted":
        assert after != "admitted"


@SETTINGS
@given(st.lists(st.tuples(st.floats(90, 260), st.floats(50, 120)), min_size=1, max_size=5),
       st.lists(st.sampled_from([5, 19, 20, 21, 30]), min_size=5, max_size=5))
def test_bp_retests_respect_the_procedure(readings, gaps):
    minute = 0
    attempts = []
    for i, (s, d) in enumerate(readings):
        d = min(d, s - 10)
        a = first(systolic_mmhg=s, diastolic_mmhg=d) if i == 0 else {"minute": minute, "systolic_mmhg": s,
                                                                       "diastolic_mmhg": d}
        attempts.append(a)
        minute += gaps[i]
    res = decide({"exam_type": "pre_shift", "attempts": attempts}, RULES)
    bp_fired = [f for f in res.fired if f.rule in ("bp.high", "bp.low")]
    # never more than 1 + 2 accepted BP readings acted upon
    assert len({f.minute for f in bp_fired}) <= 3
    # every retest asked for is at least 20 minutes after the reading that caused it
    for f in bp_fired:
        if f.effect == "retest":
            assert f.detail["not_before_minute"] - f.minute >= 20
    if res.outcome == "retest":
        assert res.retest_not_before_minute >= 20


@SETTINGS
@given(st.floats(0, 2.0), st.floats(30, 220), st.floats(34, 42.5))
def test_severity_never_drops_when_a_complaint_is_added(brac, pulse, temp):
    a = first(brac_mg_l=brac, pulse_bpm=pulse, temperature_c=temp)
    plain = decide({"exam_type": "pre_shift", "attempts": [a]}, RULES)
    with_c = decide({"exam_type": "pre_shift", "attempts": [a], "complaints": ["chest pain"]}, RULES)
    assert SEVERITY[with_c.outcome] >= max(SEVERITY[plain.outcome], SEVERITY["needs_medic"])


def test_normal_defaults_are_admitted():
    assert decide({"exam_type": "pre_shift", "attempts": [{"minute": 0, **NORMAL}]}, RULES).outcome == "admitted"
