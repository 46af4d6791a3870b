"""Pure exam logic: readings → admission attempts, decision → next step, session → record.

No I/O and no clock here: the asyncio machine (``machine.py``) calls these with the
readings it collected and the minute it read from its clock. Kept apart so the
transition logic is tested without devices, screens or a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge_agent.admission import Attempt, Decision
from firmware_bridges.devices import DeviceError
from firmware_bridges.readings import VITAL_FIELDS, Reading

#: Which device measures each admission group (edge_agent.admission.rules.GROUP_FIELDS).
GROUP_DEVICE: dict[str, str] = {
    "bp": "bp_cuff", "pulse": "bp_cuff", "temperature": "thermometer", "spo2": "oximeter", "alcohol": "alcotester",
}
#: Reading fields each device contributes to an attempt (reading name → attempt name).
DEVICE_FIELDS: dict[str, dict[str, str]] = {
    "bp_cuff": {"systolic_mmhg": "systolic_mmhg", "diastolic_mmhg": "diastolic_mmhg", "pulse_bpm": "pulse_bpm"},
    "thermometer": {"temperature_c": "temperature_c"},
    "oximeter": {"spo2_percent": "spo2_percent", "pulse_bpm": "oximeter_pulse_bpm"},
    "alcotester": {"brac_mg_l": "brac_mg_l"},
}
#: Cuff status bits that spoil a reading (devices.md §1.4; edge_agent.admission.models):
#: the values are kept in the record but the admission rules treat them as device-flagged.
SPOILING_STATUS = ("body_movement", "cuff_too_loose", "improper_position")
#: Attempt fields that the exam record keeps as measurements (contract.Measurement.field).
RECORDED_FIELDS = VITAL_FIELDS
FINAL_OUTCOMES = ("admitted", "not_admitted", "needs_medic")


def kinds_for_groups(groups: list[str] | set[str]) -> set[str]:
    return {GROUP_DEVICE[g] for g in groups if g in GROUP_DEVICE}


def kinds_for_fields(fields: list[str]) -> set[str]:
    out = set()
    for kind, mapping in DEVICE_FIELDS.items():
        if any(f in mapping.values() for f in fields):
            out.add(kind)
    return out


def attempt_fields(kind: str, result: Reading | DeviceError) -> tuple[dict[str, float | None], dict[str, str]]:
    """One device's contribution to an attempt: (values, invalid) in admission field names.

    A device error gives every field of the device as ``None`` with the error code as the
    reason — the rules then ask for a re-measurement (never a decision on it).
    """
    mapping = DEVICE_FIELDS[kind]
    values: dict[str, float | None] = {}
    invalid: dict[str, str] = {}
    if isinstance(result, DeviceError):
        for target in mapping.values():
            if target == "oximeter_pulse_bpm":
                continue
            values[target] = None
            invalid[target] = f"device_error:{result.code}"
        return values, invalid
    present = result.model_fields_set
    for source, target in mapping.items():
        if source not in present and source not in result.invalid:
            continue
        values[target] = getattr(result, source)
        if source in result.invalid:
            invalid[target] = result.invalid[source]
    if kind == "bp_cuff":
        spoiled = [s for s in SPOILING_STATUS if result.status.get(s)]
        if spoiled:
            for target in mapping.values():
                invalid.setdefault(target, "status:" + ",".join(spoiled))
    return values, invalid


def build_attempt(minute: float, results: dict[str, Reading | DeviceError]) -> Attempt:
    """An admission attempt from what the devices of one round returned."""
    values: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for kind, result in results.items():
        v, inv = attempt_fields(kind, result)
        values.update(v)
        invalid.update(inv)
    # the oximeter pulse only cross-checks the cuff; alone it is no measurement
    if "oximeter_pulse_bpm" in values and "pulse_bpm" not in values:
        values.pop("oximeter_pulse_bpm")
        invalid.pop("oximeter_pulse_bpm", None)
    return Attempt.model_validate({"minute": round(minute, 3), **values, "invalid": invalid})


def measurement_entries(attempt_no: int, results: dict[str, Reading | DeviceError], taken_at: dict[str, datetime],
                        identities: dict[str, dict]) -> list[dict]:
    """Exam-record measurements (contract.Measurement) for one round, with device identity and flags."""
    out: list[dict] = []
    for kind, result in results.items():
        ident = identities.get(kind, {})
        base = {"attempt": attempt_no, "taken_at": taken_at[kind].isoformat(),
                "device_model": ident.get("model"), "device_serial": ident.get("serial"),
                "device_verified_until": ident.get("verified_until")}
        if isinstance(result, DeviceError):
            for target in DEVICE_FIELDS[kind].values():
                if target in RECORDED_FIELDS:
                    out.append({**base, "field": target, "value": None, "invalid_reason": f"device_error:{result.code}",
                                "status": {"error": result.code, "message_ru": result.message_ru,
                                           "message_en": result.message_en}})
            continue
        if result.device is not None:
            base.update(device_model=result.device.model, device_serial=result.device.serial or base["device_serial"],
                        device_verified_until=result.device.verified_until or base["device_verified_until"])
        _, invalid = attempt_fields(kind, result)
        status = dict(result.status)
        if kind == "oximeter" and result.pulse_bpm is not None:
            status["oximeter_pulse_bpm"] = result.pulse_bpm
        for source, target in DEVICE_FIELDS[kind].items():
            if target not in RECORDED_FIELDS:
                continue
            if source not in result.model_fields_set and source not in result.invalid:
                continue
            out.append({**base, "field": target, "value": getattr(result, source),
                        "invalid_reason": invalid.get(target), "status": status})
    return out


@dataclass(frozen=True)
class Step:
    """What the workflow does after a pre-decision."""

    action: str  # "final" | "remeasure" | "retest"
    kinds: frozenset[str] = frozenset()
    not_before_minute: float | None = None
    not_after_minute: float | None = None


def next_step(decision: Decision) -> Step:
    """Final outcome, an immediate re-measurement of some devices, or a re-test later."""
    if decision.outcome in FINAL_OUTCOMES:
        return Step("final")
    if decision.outcome == "remeasure":
        return Step("remeasure", frozenset(kinds_for_fields(decision.remeasure)))
    due = float(decision.retest_not_before_minute or 0)
    groups = [p.group for p in decision.pending if p.action == "retest"
              and (p.not_before_minute is None or float(p.not_before_minute) <= due)]
    after = decision.retest_not_after_minute
    return Step("retest", frozenset(kinds_for_groups(groups)), due, None if after is None else float(after))


def complaints(answers: dict[str, bool], survey: list) -> list[str]:
    """Red-flag answers named as complaints (Russian, as they go into the record and slip)."""
    return [q.complaint_ru for q in survey if q.id in answers and answers[q.id] == q.red_flag]


def english_complaints(text: str, survey: list) -> str:
    """English text with the survey's Russian complaint names (the admission rules name a
    complaint as recorded, in Russian) replaced by their English names."""
    for q in survey:
        text = text.replace(q.complaint_ru, q.complaint_en)
    return text


def localise_complaints(body: dict, survey: list) -> None:
    """Translate complaint names in the English reasons and summary of an exam body (in place)."""
    for reason in body.get("reasons", []):
        if "en" in reason:
            reason["en"] = english_complaints(reason["en"], survey)
    if isinstance(body.get("summary"), dict) and "en" in body["summary"]:
        body["summary"] = {**body["summary"], "en": english_complaints(body["summary"]["en"], survey)}


@dataclass
class Timings:
    """Where an exam's time went, for the record and the benchmark (seconds)."""

    worker_s: float = 0.0  # waiting for the worker: survey, consent, PIN, re-test call-back
    devices_s: float = 0.0  # waiting for device measurements (each parallel phase counts once)
    decide_ms: list[float] = field(default_factory=list)  # pre-decision after the last reading

    def to_dict(self) -> dict[str, Any]:
        return {"worker_s": round(self.worker_s, 3), "devices_s": round(self.devices_s, 3),
                "decide_ms": [round(x, 3) for x in self.decide_ms]}


def exam_body(*, exam_id: str, worker: dict, exam_type: str, started_at: datetime, finished_at: datetime,
              answers: dict[str, bool], measurements: list[dict], attempts: list[Attempt], decision: Decision | None,
              outcome: str, extra_fired: list[dict], consent: dict | None, timings: Timings, kiosk: str,
              rule_set_version: str) -> dict:
    """The one atomic exam record (contract.ExamBody plus the journal's columns, reference §1.6)."""
    fired = [] if decision is None else [
        {"rule": f.rule, "source": f.source, "value": f.value, "effect": f.effect, "minute": f.minute,
         "threshold": f.threshold, "detail": f.detail} for f in decision.fired]
    reasons = [] if decision is None else [r.model_dump() for r in decision.reasons]
    fired += extra_fired
    reasons += [{"rule": f["rule"], "ru": f["ru"], "en": f["en"]} for f in extra_fired]
    body: dict[str, Any] = {
        "exam_id": exam_id,
        "worker_id": worker["personnel_number"],
        "exam_type": exam_type,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "answers": dict(answers),
        "measurements": measurements,
        "outcome": outcome,
        "fired": [{k: v for k, v in f.items() if k not in ("ru", "en")} for f in fired],
        "rule_set_version": rule_set_version,
        "decided_by": "kiosk",
        "worker": {k: worker.get(k) for k in ("personnel_number", "full_name", "birth_date", "sex")},
        "kiosk": kiosk,
        "consent": consent,
        "reasons": reasons,
        "attempts": [a.model_dump(mode="json", exclude_unset=True) | {"minute": a.minute} for a in attempts],
        "timings": timings.to_dict(),
    }
    if decision is not None:
        body.update(summary=decision.summary, pending=[p.model_dump(mode="json") for p in decision.pending],
                    notify_employer=decision.notify_employer, medic_queue=decision.medic_queue or outcome != "admitted",
                    rule_set_id=decision.rule_set_id, rule_set_sha256=decision.rule_set_sha256)
    return body
