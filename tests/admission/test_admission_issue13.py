"""Issue 13, errors 2–4: the inputs the review found wrong, with the answers the sources ask for."""

from __future__ import annotations

import pytest
from admission_testlib import APPROVED, RULES, at, bp, first, rules_fired, run
from pydantic import ValidationError

from edge_agent.admission import IndividualNorm

# --- error 2: severe pulse -> the medic at once ------------------------------------------------------


@pytest.mark.parametrize("pulse", [215, 35, 130, 40])
def test_severe_pulse_goes_to_the_medic_at_once(pulse):
    d = run(first(pulse_bpm=pulse))  # before the fix: "retest" in 20 minutes
    assert d.outcome == "needs_medic"
    assert rules_fired(d) == ["pulse.severe"]
    assert d.fired[0].effect == "needs_medic"
    assert d.retest_not_before_minute is None and d.medic_queue


@pytest.mark.parametrize(("pulse", "outcome"), [(129, "retest"), (41, "retest"), (101, "retest"), (49, "retest")])
def test_pulse_just_inside_severe_is_a_retest(pulse, outcome):
    assert run(first(pulse_bpm=pulse)).outcome == outcome


def test_severe_pulse_on_an_early_retest_is_not_ignored():
    d = run(first(pulse_bpm=110), at(5, pulse_bpm=140))
    assert d.outcome == "needs_medic"
    assert rules_fired(d) == ["pulse", "retest.interval", "pulse.severe"]


def test_pulse_norm_never_admits_a_severe_pulse():
    d = run(first(pulse_bpm=132), individual_norm={"pulse_bpm": 125, **APPROVED})
    assert (d.outcome, rules_fired(d)) == ("needs_medic", ["pulse.severe"])


def test_severe_pulse_texts_are_bilingual_ru_first():
    d = run(first(pulse_bpm=215))
    r = d.reasons[0]
    assert "215" in r.ru and "уд/мин" in r.ru and "130" in r.ru
    assert "215" in r.en and "130" in r.en
    assert d.summary["ru"].startswith("Ожидайте медицинского работника")


# --- error 3: low temperature -> remeasure, then the medic -------------------------------------------


def test_low_temperature_is_remeasured_not_admitted():
    d = run(first(temperature_c=34.5))  # before the fix: admitted silently
    assert d.outcome == "remeasure"
    assert d.remeasure == ["temperature_c"]
    assert rules_fired(d) == ["temp.low"] and d.fired[0].effect == "remeasure"
    assert "термометр" in d.reasons[0].ru and "Повторите измерение сейчас" in d.reasons[0].ru


def test_low_temperature_twice_goes_to_the_medic():
    d = run(first(temperature_c=34.5), at(1, temperature_c=34.7))
    assert d.outcome == "needs_medic"
    assert [f.effect for f in d.fired] == ["remeasure", "needs_medic"]


def test_low_temperature_then_normal_is_admitted():
    d = run(first(temperature_c=34.5), at(1, temperature_c=36.4))
    assert d.outcome == "admitted"


@pytest.mark.parametrize(("t", "outcome"), [(34.9, "remeasure"), (35.0, "admitted"), (33.9, "remeasure")])
def test_low_temperature_boundary(t, outcome):
    d = run(first(temperature_c=t))
    assert d.outcome == outcome
    if t == 33.9:  # implausible (< 34.0): a device problem, not temp.low
        assert rules_fired(d) == ["plausibility.temp"]


# --- error 4: individual norms -------------------------------------------------------------------------


def test_norm_without_readings_count_is_not_applied():
    d = run(first(**bp(152, 94)), individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95})
    assert d.outcome == "retest"  # before the fix: admitted by the unverified norm
    assert d.fired[0].rule == "bp.individual" and d.fired[0].detail["why"] == "no_readings_count"
    assert "не указано, по скольким измерениям" in d.reasons[0].ru


def test_norm_without_physician_approval_is_not_applied():
    d = run(first(**bp(152, 94)), individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95, "n_readings": 12})
    assert d.outcome == "retest"
    assert d.fired[0].detail["why"] == "not_approved"
    assert "утверждения врачом" in d.reasons[0].ru


def test_norm_160_100_does_not_admit_175_108():
    d = run(first(**bp(175, 108)), individual_norm={"systolic_mmhg": 160, "diastolic_mmhg": 100, **APPROVED})
    assert d.outcome == "needs_medic"  # before the fix: admitted (inside 160/100 ±10 %)
    assert rules_fired(d) == ["bp.individual"]
    assert d.fired[0].detail["why"] == "ceiling" and d.fired[0].detail["ceiling"] == [160, 100]
    assert "160/100" in d.reasons[0].ru and "не допускает" in d.reasons[0].ru


def test_norm_above_severe_is_refused():
    d = run(first(**bp(190, 115)), individual_norm={"systolic_mmhg": 200, "diastolic_mmhg": 120, **APPROVED})
    assert rules_fired(d) == ["bp.individual", "bp.severe"]
    assert d.fired[0].effect == "ignored" and d.fired[0].detail["why"] == "norm_above_severe"
    d2 = run(first(**bp(150, 92)), individual_norm={"systolic_mmhg": 200, "diastolic_mmhg": 120, **APPROVED})
    assert d2.outcome == "retest"  # the population band applies


def test_ceiling_is_configuration():
    import tomllib

    from edge_agent.admission.rules import DEFAULT_RULES_PATH, parse_rule_set

    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    data["rules"]["bp_individual"]["ceiling_systolic_at_or_above"] = 170
    data["rules"]["bp_individual"]["ceiling_diastolic_at_or_above"] = 105
    rules = parse_rule_set(data)
    norm = {"systolic_mmhg": 160, "diastolic_mmhg": 100, **APPROVED}
    assert run(first(**bp(168, 104)), individual_norm=norm, rules=rules).outcome == "admitted"
    assert run(first(**bp(170, 104)), individual_norm=norm, rules=rules).outcome == "needs_medic"
    data["rules"]["bp_individual"]["ceiling_outcome"] = "retest"
    retest = parse_rule_set(data)
    d = run(first(**bp(170, 104)), individual_norm=norm, rules=retest)
    assert d.outcome == "retest" and d.fired[0].detail["basis"] == "individual"
    data["rules"]["bp_individual"]["ceiling_systolic_at_or_above"] = 190
    with pytest.raises(ValueError, match="ceiling must not be above"):
        parse_rule_set(data)


def test_approval_date_is_validated():
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        IndividualNorm.model_validate({"systolic_mmhg": 150, "diastolic_mmhg": 95, "approved_on": "вчера"})


def test_default_rule_set_keeps_sources():
    r = RULES.rules
    assert r.pulse_severe.at_or_above == 130 and r.pulse_severe.at_or_below == 40 and "NEWS2" in r.pulse_severe.source
    assert r.temp_low.below == 35.0 and r.temp_low.remeasures == 1 and "hypothermia" in r.temp_low.source
    assert (r.bp_individual.ceiling_systolic_at_or_above, r.bp_individual.ceiling_diastolic_at_or_above) == (160, 100)
    assert r.bp_individual.require_approval and r.bp_individual.min_readings == 10


def test_roster_carries_the_approval_and_refuses_a_bad_date(tmp_path):
    from edge_agent.roster import Roster, RosterError

    roster = Roster(tmp_path / "roster.db")
    try:
        norm = {"systolic_mmhg": 150, "diastolic_mmhg": 95, **APPROVED}
        roster.apply_update({"version": "v1", "full": True,
                             "workers": [{"personnel_number": "T-1", "full_name": "Петров П. П.", "individual_norm": norm}]})
        stored = roster.by_number("T-1")["individual_norm"]
        assert stored["approved_by"] == APPROVED["approved_by"] and stored["n_readings"] == 12
        assert run(first(**bp(152, 94)), individual_norm=stored).outcome == "admitted"
        with pytest.raises(RosterError, match=r"workers\[0\]: individual_norm.approved_on"):
            roster.apply_update({"workers": [{"personnel_number": "T-2", "full_name": "X",
                                              "individual_norm": {**norm, "approved_on": "02.11.2026"}}]})
        assert roster.by_number("T-2") is None
    finally:
        roster.close()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("pulse_severe.at_or_above", 90, "pulse_severe thresholds must lie outside"),
    ("temp_low.below", 37.5, "temp_low.below must be below"),
])
def test_new_thresholds_are_checked_against_their_neighbours(key, value, message):
    import tomllib

    from edge_agent.admission.rules import (
        DEFAULT_RULES_PATH,
        RuleSetError,
        parse_rule_set,
    )

    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    rule, field = key.split(".")
    data["rules"][rule][field] = value
    with pytest.raises(RuleSetError, match=message):
        parse_rule_set(data)
