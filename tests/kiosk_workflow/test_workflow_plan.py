"""The pure exam logic: readings → attempts, decision → next step, the record, the slip."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge_agent.admission import ExamInput, decide, load_rule_set
from edge_agent.workflow import plan
from edge_agent.workflow.settings import DEFAULT_SURVEY, WorkflowSettings
from edge_agent.workflow.slip import build_slip
from firmware_bridges.contract import ExamBody
from firmware_bridges.devices import DeviceDisconnected
from firmware_bridges.readings import DeviceIdentity, Reading

RULES = load_rule_set()
T0 = datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)


def cuff(s, d, p, **status) -> Reading:
    return Reading(systolic_mmhg=s, diastolic_mmhg=d, pulse_bpm=p, status=status,
                   device=DeviceIdentity(kind="bp_cuff", model="BP-X", serial="S1", verified_until="2027-01-31"))


def full_round(s=124, d=80, p=70, t=36.6, spo2=98, brac=0.0) -> dict:
    return {"bp_cuff": cuff(s, d, p), "thermometer": Reading(temperature_c=t),
            "oximeter": Reading(spo2_percent=spo2, pulse_bpm=p + 1), "alcotester": Reading(brac_mg_l=brac)}


def test_a_full_round_becomes_one_attempt_with_the_oximeter_pulse_as_cross_check():
    a = plan.build_attempt(0, full_round())
    assert (a.systolic_mmhg, a.diastolic_mmhg, a.pulse_bpm, a.temperature_c, a.spo2_percent, a.brac_mg_l) == (
        124, 80, 70, 36.6, 98, 0.0)
    assert a.oximeter_pulse_bpm == 71 and a.invalid == {}
    assert decide(ExamInput(exam_type="pre_shift", attempts=[a]), RULES).outcome == "admitted"


def test_spoiling_cuff_status_flags_the_reading_and_asks_for_a_remeasurement():
    a = plan.build_attempt(0, {**full_round(), "bp_cuff": cuff(124, 80, 70, body_movement=True)})
    assert a.invalid["systolic_mmhg"] == "status:body_movement"
    decision = decide(ExamInput(exam_type="pre_shift", attempts=[a]), RULES)
    step = plan.next_step(decision)
    assert (decision.outcome, step.action, step.kinds) == ("remeasure", "remeasure", frozenset({"bp_cuff"}))


def test_a_device_error_is_never_decided_on():
    error = DeviceDisconnected.for_kind("alcotester", "cable")
    a = plan.build_attempt(0, {**full_round(), "alcotester": error})
    assert a.brac_mg_l is None and a.invalid["brac_mg_l"] == "device_error:disconnected"
    attempts = [a]
    for minute in (1, 2):
        decision = decide(ExamInput(exam_type="pre_shift", attempts=attempts), RULES)
        assert plan.next_step(decision) == plan.Step("remeasure", frozenset({"alcotester"}))
        attempts.append(plan.build_attempt(minute, {"alcotester": error}))
    decision = decide(ExamInput(exam_type="pre_shift", attempts=attempts), RULES)
    assert decision.outcome == "needs_medic"  # device.no_valid_reading after the 3rd failure
    assert any(f.rule == "device.no_valid_reading" for f in decision.fired)


def test_positive_alcohol_schedules_only_the_breathalyzer_within_its_window():
    a = plan.build_attempt(0, full_round(brac=0.45))
    step = plan.next_step(decide(ExamInput(exam_type="pre_shift", attempts=[a]), RULES))
    assert step == plan.Step("retest", frozenset({"alcotester"}), 15.0, 20.0)


def test_bp_and_alcohol_retests_due_at_different_times_are_taken_in_order():
    a = plan.build_attempt(0, full_round(s=150, d=95, brac=0.45))
    step = plan.next_step(decide(ExamInput(exam_type="pre_shift", attempts=[a]), RULES))
    assert step.kinds == frozenset({"alcotester"}) and step.not_before_minute == 15
    b = plan.build_attempt(15.5, {"alcotester": Reading(brac_mg_l=0.0)})
    step = plan.next_step(decide(ExamInput(exam_type="pre_shift", attempts=[a, b]), RULES))
    # 0.45 then 0.0 is unconfirmed → the medic decides at once (needs_medic wins over the BP re-test)
    assert step.action == "final"


def test_complaints_are_the_red_flag_answers():
    answers = {"slept_enough": False, "feels_unwell": False, "took_medication": True}
    assert plan.complaints(answers, DEFAULT_SURVEY) == ["не выспался", "приём лекарств"]


def test_the_exam_record_fills_the_journal_columns_and_validates():
    rounds = full_round(s=150, d=95)
    a = plan.build_attempt(0, rounds)
    decision = decide(ExamInput(exam_type="pre_shift", attempts=[a]), RULES)
    taken = {k: T0 for k in rounds}
    ident = {"thermometer": {"model": "HT", "serial": "H1", "verified_until": "2027-01-01"}}
    body = plan.exam_body(
        exam_id="e1", worker={"personnel_number": "T-1", "full_name": "Иванов И. И.", "birth_date": "1980-01-01",
                              "sex": "M"},
        exam_type="pre_shift", started_at=T0, finished_at=T0 + timedelta(minutes=1), answers={"slept_enough": True},
        measurements=plan.measurement_entries(1, rounds, taken, ident), attempts=[a], decision=decision,
        outcome="needs_medic", extra_fired=[], consent={"given_at": T0.isoformat()}, timings=plan.Timings(),
        kiosk="gate-1", rule_set_version=decision.rule_set_version)
    exam = ExamBody.model_validate(body)
    assert exam.outcome == "needs_medic" and exam.fired
    assert body["worker"]["birth_date"] == "1980-01-01" and body["worker"]["sex"] == "M"
    thermo = next(m for m in body["measurements"] if m["field"] == "temperature_c")
    assert (thermo["device_model"], thermo["device_serial"], thermo["device_verified_until"]) == ("HT", "H1", "2027-01-01")
    bp = next(m for m in body["measurements"] if m["field"] == "systolic_mmhg")
    assert bp["device_serial"] == "S1" and bp["status"] == {}
    assert body["reasons"][0]["ru"] and body["rule_set_sha256"] == decision.rule_set_sha256
    spo2 = next(m for m in body["measurements"] if m["field"] == "spo2_percent")
    assert spo2["status"]["oximeter_pulse_bpm"] == 71


def test_slip_names_worker_type_time_outcome_reasons_and_kiosk_without_medical_values():
    body = {"exam_id": "0123456789abcdef", "worker_id": "T-1", "exam_type": "pre_trip", "outcome": "not_admitted",
            "finished_at": "2026-11-24T05:30:00+00:00", "rule_set_version": "2026.1.0",
            "worker": {"full_name": "Иванов Иван Петрович"},
            "reasons": [{"rule": "alcohol", "ru": "Повторное исследование подтвердило алкоголь.", "en": "x"}]}
    slip = build_slip(body, site="plant-1", kiosk="gate-1", width=32)
    text = "\n".join(slip.lines)
    assert slip.emphasis == "НЕ ДОПУЩЕН"
    assert "Дата: 24.11.2026  Время: 08:30" in text  # Moscow time
    assert "Осмотр: предрейсовый" in text and "Иванов Иван Петрович" in text and "plant-1/gate-1" in text
    assert "алкоголь" in text and all(len(line) <= 32 for line in slip.lines)


def test_settings_refuse_unknown_kinds_and_types():
    with pytest.raises(ValueError, match="unknown measuring device kind"):
        WorkflowSettings(phases=[["bp_cuff", "printer"]])
    with pytest.raises(ValueError, match="unknown exam type"):
        WorkflowSettings(exam_types=["night_shift"])
