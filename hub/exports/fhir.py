"""An exam (or a period of exams) as a FHIR R4 Bundle for clinics and integrators.

Version: FHIR R4. ``fhir.resources`` 8.x models R5 by default and R4B (4.3.0) in
``fhir.resources.R4B``; the package no longer ships the 4.0.1 models. R4B changed none of the
elements used here (Patient, Practitioner, Device, Observation, DiagnosticReport, Bundle are the
same as in R4 4.0.1), so the Bundle is built and validated with the R4B models and is valid R4.

Content (docs/exports.md):

* Patient — the worker: personnel number, and name, sex and birth date where the kiosk's record
  carries them (the roster lives on the kiosks);
* Device — the kiosk as the gateway (each Observation names it through the standard extension
  ``observation-gatewayDevice``), and each measuring device (model + serial) with the kiosk as parent;
* Observation — one per measured attempt, LOINC codes and UCUM units: blood pressure as the panel
  85354-9 with components 8480-6 (systolic) and 8462-4 (diastolic), heart rate 8867-4, body
  temperature 8310-5, SpO2 59408-5 (with 2708-6, the vital-signs profile's code); a value the device
  marked invalid has ``dataAbsentReason`` instead of a value;
* breath alcohol — LOINC has ethanol in exhaled gas only as a presence (104133-4, ordinal) and a
  cutoff (104265-4, volume fraction), no mass concentration; the analyser gives mg/L, so the code is
  local (:data:`LOCAL_OBSERVATION` ``brac``) with UCUM ``mg/L``;
* DiagnosticReport — the conclusion: the medic's decision where there is one (status ``final``,
  the medic as Practitioner performer), else the kiosk's pre-decision (status ``preliminary``);
* Provenance — the medic's verified electronic signature on the decision, targeting the report.

Resource ids are UUIDv5 of stable keys (worker, kiosk, device, exam), so exporting twice gives the
same ids and a worker appears once in a period's Bundle.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Iterable, Sequence

from fhir.resources.R4B.bundle import Bundle

from hub.exports import journal
from hub.exports.source import StoredExam

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
GATEWAY_EXTENSION = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
#: Local code systems and identifier systems of this hub (stable URIs naming, not locating, things).
BASE = "https://ohs-gate.invalid/fhir"
LOCAL_OBSERVATION = f"{BASE}/CodeSystem/kiosk-observation"
LOCAL_EXAM = f"{BASE}/CodeSystem/exam-type"
LOCAL_OUTCOME = f"{BASE}/CodeSystem/admission-outcome"
PERSONNEL = f"{BASE}/sid/personnel-number"
KIOSK = f"{BASE}/sid/kiosk"
EVENT = f"{BASE}/sid/exam-event"
NAMESPACE = uuid.UUID("5b0f3f52-4c1e-5d59-9a57-1f0f5e6c2a14")

#: field -> (codings, UCUM unit, category); codings are (system, code, display)
SIMPLE = {
    "pulse_bpm": ([(LOINC, "8867-4", "Heart rate")], "/min", "vital-signs"),
    "temperature_c": ([(LOINC, "8310-5", "Body temperature")], "Cel", "vital-signs"),
    "spo2_percent": ([(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                      (LOINC, "2708-6", "Oxygen saturation in Arterial blood")], "%", "vital-signs"),
    "brac_mg_l": ([(LOCAL_OBSERVATION, "brac", "Ethanol [Mass/volume] in Exhaled gas")], "mg/L",
                  "exam"),
}
BP_PANEL = (LOINC, "85354-9", "Blood pressure panel with all children optional")
BP_PARTS = {"systolic_mmhg": (LOINC, "8480-6", "Systolic blood pressure"),
            "diastolic_mmhg": (LOINC, "8462-4", "Diastolic blood pressure")}
OUTCOME_DISPLAY = {"admitted": "Admitted to work", "not_admitted": "Not admitted to work",
                   "needs_medic": "Medic's decision needed"}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def _ref(resource_id: str) -> dict:
    return {"reference": f"urn:uuid:{resource_id}"}


def _concept(codings: Sequence[tuple[str, str, str]], text: str | None = None) -> dict:
    out: dict = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    if text:
        out["text"] = text
    return out


def _category(code: str) -> list[dict]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def patient(exam: StoredExam) -> dict:
    worker = exam.body.get("worker") if isinstance(exam.body.get("worker"), dict) else {}
    resource = {
        "resourceType": "Patient",
        "id": _id("patient", exam.row["site"], exam.row["worker_id"]),
        "identifier": [{"system": PERSONNEL, "value": exam.row["worker_id"],
                        "assigner": {"display": exam.row["site"]}}],
        "gender": {"M": "male", "F": "female"}.get(worker.get("sex"), "unknown"),
    }
    if worker.get("full_name"):
        resource["name"] = [{"use": "official", "text": worker["full_name"]}]
    birth = worker.get("birth_date")
    if isinstance(birth, str) and len(birth) == 10:
        resource["birthDate"] = birth
    return resource


def kiosk_device(exam: StoredExam) -> dict:
    site, kiosk = exam.row["site"], exam.row["kiosk"]
    return {
        "resourceType": "Device",
        "id": _id("device", site, kiosk),
        "identifier": [{"system": KIOSK, "value": f"{site}/{kiosk}"}],
        "deviceName": [{"name": kiosk, "type": "user-friendly-name"}],
        "type": {"text": "Medical examination kiosk (gateway)"},
        "status": "active",
    }


def sensor_devices(exam: StoredExam, kiosk_id: str) -> dict[tuple[str, str], dict]:
    """One Device per (model, serial) measuring in this exam, the kiosk as its parent."""
    out: dict[tuple[str, str], dict] = {}
    for m in exam.body.get("measurements") or []:
        key = (str(m.get("device_model") or ""), str(m.get("device_serial") or ""))
        if key == ("", "") or key in out:
            continue
        device = {"resourceType": "Device", "id": _id("device", exam.row["site"], exam.row["kiosk"], *key),
                  "parent": _ref(kiosk_id), "status": "active"}
        if key[1]:
            device["serialNumber"] = key[1]
        if key[0]:
            device["deviceName"] = [{"name": key[0], "type": "model-name"}]
        out[key] = device
    return out


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _absent(m: dict) -> dict:
    return {"coding": [{"system": ABSENT, "code": "error", "display": "Error"}],
            "text": m.get("invalid_reason") or "the device marked the value invalid"}


def _observation(exam: StoredExam, key: str, m: dict, ids: dict) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": _id("observation", exam.event_id, key, str(m.get("attempt", 1))),
        "identifier": [{"system": EVENT, "value": f"{exam.event_id}/{key}/{m.get('attempt', 1)}"}],
        "status": "final",
        "subject": _ref(ids["patient"]),
        "effectiveDateTime": m.get("taken_at") or exam.row["finished_at"],
        "extension": [{"url": GATEWAY_EXTENSION, "valueReference": _ref(ids["kiosk"])}],
    }
    device = ids["sensors"].get((str(m.get("device_model") or ""), str(m.get("device_serial") or "")))
    if device is not None:
        resource["device"] = _ref(device["id"])
    return resource


def observations(exam: StoredExam, ids: dict) -> list[dict]:
    measurements = exam.body.get("measurements") or []
    out = []
    by_attempt: dict[int, dict[str, dict]] = {}
    for m in measurements:
        field = m.get("field")
        if field in BP_PARTS:
            by_attempt.setdefault(int(m.get("attempt", 1)), {})[field] = m
        elif field in SIMPLE:
            codings, unit, category = SIMPLE[field]
            obs = _observation(exam, field, m, ids)
            obs["category"] = _category(category)
            obs["code"] = _concept(codings, codings[0][2])
            if m.get("value") is None:
                obs["dataAbsentReason"] = _absent(m)
            else:
                obs["valueQuantity"] = _quantity(float(m["value"]), unit)
            out.append(obs)
    for _attempt, parts in sorted(by_attempt.items()):
        first = next(iter(parts.values()))
        obs = _observation(exam, "blood_pressure", first, ids)
        obs["category"] = _category("vital-signs")
        obs["code"] = _concept([BP_PANEL], "Blood pressure")
        obs["component"] = []
        for field, coding in BP_PARTS.items():
            part = parts.get(field)
            component: dict = {"code": _concept([coding])}
            if part is None or part.get("value") is None:
                component["dataAbsentReason"] = _absent(part or {})
            else:
                component["valueQuantity"] = _quantity(float(part["value"]), "mm[Hg]")
            obs["component"].append(component)
        out.append(obs)
    return out


def practitioner(name: str) -> dict:
    return {"resourceType": "Practitioner", "id": _id("practitioner", name), "name": [{"text": name}]}


def report(exam: StoredExam, ids: dict, results: list[dict]) -> dict:
    decision = exam.decision
    outcome = journal.final_outcome(exam)
    resource = {
        "resourceType": "DiagnosticReport",
        "id": _id("report", exam.event_id),
        "identifier": [{"system": EVENT, "value": exam.event_id}],
        "status": "final" if decision else "preliminary",
        "code": _concept([(LOCAL_EXAM, exam.row["exam_type"], exam.row["exam_type"].replace("_", "-"))],
                         "Pre-/post-shift medical examination"),
        "subject": _ref(ids["patient"]),
        "effectivePeriod": {"start": exam.row["started_at"], "end": exam.row["finished_at"]},
        "issued": (decision or {}).get("decided_at") or exam.row["received_at"],
        "result": [_ref(o["id"]) for o in results],
        "conclusion": journal.conclusion(exam, "ru"),
        "conclusionCode": [_concept([(LOCAL_OUTCOME, outcome, OUTCOME_DISPLAY[outcome])])],
    }
    if decision:
        resource["performer"] = [_ref(ids["practitioner"])]
    return resource


#: ASTM E1762 signature type of an author's signature (the FHIR R4 Signature.type value set)
AUTHOR_SIGNATURE = ("urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1", "Author's Signature")


def provenance(exam: StoredExam, practitioner_id: str, report_id: str) -> dict | None:
    """The medic's electronic signature on the decision (hub/medic_signing.py), when it verifies.

    The signature covers the canonical JSON of the decision (``medic_signing.SIGNED_FIELDS``), not
    the FHIR resource: ``targetFormat`` says so; ``data`` is the Ed25519 signature (base64)."""
    signature = (exam.decision or {}).get("signature") or {}
    if signature.get("status") != "valid":
        return None
    who = _ref(practitioner_id)
    return {
        "resourceType": "Provenance",
        "id": _id("provenance", exam.decision["decision_id"]),
        "target": [_ref(report_id)],
        "recorded": exam.decision["decided_at"],
        "agent": [{"who": who}],
        "signature": [{"type": [{"system": s, "code": c, "display": d} for s, c, d in [AUTHOR_SIGNATURE]],
                       "when": signature["signed_at"], "who": who, "targetFormat": "application/json",
                       "sigFormat": "application/octet-stream", "data": signature["signature"]}],
    }


def exam_resources(exam: StoredExam) -> list[dict]:
    """Every resource of one exam: Patient, kiosk and sensor Devices, Observations, Practitioner, report."""
    person, kiosk = patient(exam), kiosk_device(exam)
    sensors = sensor_devices(exam, kiosk["id"])
    ids = {"patient": person["id"], "kiosk": kiosk["id"], "sensors": sensors}
    resources = [person, kiosk, *sensors.values()]
    if exam.decision:
        medic = practitioner(exam.decision["medic"])
        ids["practitioner"] = medic["id"]
        resources.append(medic)
    results = observations(exam, ids)
    conclusion = report(exam, ids, results)
    signed = provenance(exam, ids["practitioner"], conclusion["id"]) if exam.decision else None
    return [*resources, *results, conclusion, *([signed] if signed else [])]


def bundle(exams: Iterable[StoredExam], *, next_url: str | None = None) -> Bundle:
    """A validated R4 ``collection`` Bundle of the exams (shared resources once); ValueError if invalid."""
    entries, seen = [], set()
    for exam in exams:
        for resource in exam_resources(exam):
            if resource["id"] in seen:
                continue
            seen.add(resource["id"])
            entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    data = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
            "timestamp": datetime.now(timezone.utc).isoformat(), "entry": entries}
    if next_url:
        data["link"] = [{"relation": "next", "url": next_url}]
    return Bundle.model_validate(data)
