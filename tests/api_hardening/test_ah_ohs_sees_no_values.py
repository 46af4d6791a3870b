"""The privacy boundary over the whole API (issue 12): a hub fed with exams, decisions, workers, norms,
vaccinations, the smoking programme, risk-group assessments, the risk register and analytics; every
GET route OHS may call is called, and no answer carries a measured value — neither a key naming
one nor one of the seeded values — and each such route answers through closed models (an unnamed key
fails the request instead of reaching OHS).

Builds on test_ah_privacy.py (small cells): here it is the fields, route by route, that are checked.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

from fastapi.routing import APIRoute, iter_route_contexts

from firmware_bridges.contract import make_envelope
from firmware_bridges.readings import VITAL_FIELDS
from hub.analytics.runner import AnalyticsRunner
from hub.analytics.settings import AnalyticsSettings
from hub.analytics.workplaces import Roster, save_roster
from hub.api.views_people import VaccinationPicture
from tests.analytics.an_helpers import Records
from tests.api_hardening.ah_helpers import ADMIN, MEDIC, OHS, auth, hub_client
from tests.api_hardening.test_ah_response_models import model_leaves

#: keys that hold an individual's medical values (the exam body, the worker's norms and plan)
MEDICAL_KEYS = {*VITAL_FIELDS, "mean_arterial_mmhg", "measurements", "answers", "fired", "survey",
                "identity_photos", "fatigue", "norms", "norm_in_force", "individual_norm", "statuses", "criteria",
                "criteria_groups", "worker_ids"}
#: parts of key names that name a vital sign
MEDICAL_WORDS = ("systolic", "diastolic", "pulse", "temperature", "spo2", "brac", "arterial")
#: subtrees that name rules, not people: the analyses' thresholds are configuration (docs/ohs-analytics.md),
#: a model's input schema names the fields it takes (GET /api/v1/models)
RULE_KEYS = {"thresholds", "input_schema"}
#: values seeded into the exams that no aggregate can equal
SEEDED = {"temperature_c": 38.73, "brac_mg_l": 0.437, "spo2_percent": 91.3, "systolic_mmhg": 187.5,
          "diastolic_mmhg": 113.5, "pulse_bpm": 131.5}
NORMAL = {"temperature_c": 36.6, "brac_mg_l": 0.0, "spo2_percent": 98.0, "systolic_mmhg": 120.0,
          "diastolic_mmhg": 80.0, "pulse_bpm": 70.0}

#: the medic's side of a route whose handler picks the model by role (OHS gets the closed one beside it)
MEDIC_VARIANTS = {VaccinationPicture}

D1 = datetime(2026, 3, 2, 7, tzinfo=timezone.utc)
WORKERS = [f"W{i:03}" for i in range(8)]


def medical_keys(value, path: str = "") -> list[str]:
    """Every key path under ``value`` that names a medical value, and every seeded value found."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in RULE_KEYS:
                continue
            where = f"{path}.{key}"
            if key in MEDICAL_KEYS or any(word in key.lower() for word in MEDICAL_WORDS):
                found.append(where)
            found += medical_keys(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += medical_keys(item, f"{path}[{i}]")
    elif isinstance(value, float) and value in SEEDED.values():
        found.append(f"{path} = {value}")
    return found


def test_medical_keys_finds_values_and_their_names():
    exam = {"items": [{"worker_id": "W1", "measurements": [{"field": "systolic_mmhg", "value": 187.5}]}]}
    assert medical_keys(exam) == [".items[0].measurements", ".items[0].measurements[0].value = 187.5"]
    assert medical_keys({"by_site": [{"febrile": 2, "proportion": 0.1}], "thresholds": {"temperature_c": 37}}) == []


def _seed(client, store) -> None:
    save_roster(store, Roster.model_validate({
        "site": "plant-1", "shifts": [{"shift": "day", "start": time(8), "hours": 8}],
        "zones": [{"zone": "loud", "noise_limit_db": 80.0}, {"zone": "calm"}],
        "workplaces": [{"workplace": "op", "segments": [{"zone": "loud", "hours": 8}]}],
        "assignments": [{"workplace": "op", "shift": "day", "workers": WORKERS}]}), "test")
    rec = Records(store)
    for day in range(10):
        at = D1 + timedelta(days=day)
        rec.noise("loud", at + timedelta(hours=1), [86.0] * 12, step_min=40)
        for i, worker in enumerate(WORKERS):
            sick = (i + day) % 4 == 0
            rec.exam(worker, at + timedelta(minutes=i), outcome="needs_medic" if sick else "admitted",
                     **(SEEDED if sick else NORMAL))
    rec.smoke("calm", D1 + timedelta(days=3, hours=2))
    other = Records(store, kiosk="kiosk-02")  # a record replayed with other content: a conflict for the admin
    other.exam("W001", D1, **SEEDED)
    replay = make_envelope("plant-1", "kiosk-02", "exam", {**_exam_body("W002"), "rule_set_version": "x"}, 1)
    store.commit_batch([(replay, D1.isoformat())], [("ohs/v1/plant-1/kiosk-02/exam", b"{not json", "not JSON")])
    AnalyticsRunner(store, AnalyticsSettings(enabled=False)).run_once()
    people = [{"personnel_number": w, "site": "plant-1", "full_name": f"Worker {w}", "birth_date": "1980-05-01",
               "sex": "M", "unit": "press"} for w in WORKERS]
    assert client.put("/api/v1/workers", json={"workers": people}, headers=auth(ADMIN)).status_code == 200
    queue = client.get("/api/v1/medic/queue", headers=auth(MEDIC)).json()["items"]
    decided = client.post(f"/api/v1/medic/exams/{queue[0]['event_id']}/decision", headers=auth(MEDIC),
                          json={"decision": "not_admitted", "reason": "по осмотру"})
    assert decided.status_code == 201, decided.text
    assert client.post("/api/v1/workers/W001/vaccinations", headers=auth(MEDIC), json={
        "kind": "dose", "vaccine": "diphtheria_tetanus", "on_date": str(date.today() - timedelta(days=400))}
    ).status_code == 201
    assert client.put("/api/v1/smoking/participants/W001", headers=auth(MEDIC),
                      json={"status": "current"}).status_code == 200
    assert client.post("/api/v1/risk-groups/W001/assessments", headers=auth(MEDIC), json={"criteria": {
        "c1": 3, "c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False, "c8": False}}).status_code == 201
    row = {"code": "Ф1", "factor": "шум", "hazard": "шум у пресса", "hazard_level": 3, "exposure_duration": 4,
           "exposure_frequency": 4, "probability": 4}
    assert client.post("/api/v1/risk-register", json={"site": "plant-1", "row": row},
                       headers=auth(OHS)).status_code == 201


def _exam_body(worker: str) -> dict:
    return {"exam_id": str(uuid.uuid4()), "worker_id": worker, "exam_type": "pre_shift",
            "started_at": D1.isoformat(), "finished_at": (D1 + timedelta(minutes=3)).isoformat(),
            "measurements": [], "outcome": "admitted", "fired": []}


def _path_values(client) -> dict[str, str]:
    exams = client.get("/api/v1/exams", headers=auth(OHS)).json()["items"]
    alarms = client.get("/api/v1/analytics/alarms", headers=auth(OHS)).json()["items"]
    return {"event_id": exams[0]["event_id"], "personnel_number": "W001", "worker_id": "W001", "site": "plant-1",
            "kiosk": "kiosk-01", "row_id": "1", "conflict_id": "1", "norm_id": "1", "assessment_id": "1",
            "alarm_id": str(alarms[0]["id"]) if alarms else "1"}


def test_no_answer_ohs_receives_carries_a_measured_value(tmp_path):
    with hub_client(tmp_path) as (client, app):
        _seed(client, app.state.store)
        values = _path_values(client)
        answered, leaks = [], {}
        routes = [r for r in iter_route_contexts(app.routes)
                  if isinstance(r.original_route, APIRoute) and r.include_in_schema and "GET" in r.methods]
        for route in routes:
            path = route.path.format(**values)
            queries = [{}]
            if route.path == "/api/v1/exams":
                queries += [{"worker_id": "W001"}, {"outcome": "needs_medic"}]
            if route.path.startswith("/api/v1/analytics/"):
                queries += [{"fresh": "true", "detail": "true"}]
            for query in queries:
                response = client.get(path, params=query, headers=auth(OHS))
                if response.status_code != 200 or not response.headers["content-type"].startswith("application/json"):
                    continue
                answered.append(route.path)
                open_models = [m.__name__ for m in model_leaves(route.response_model)
                               if m.model_config.get("extra") == "allow" and m not in MEDIC_VARIANTS]
                if open_models:
                    leaks[f"{path} (open response models)"] = open_models
                found = medical_keys(response.json())
                if found:
                    leaks[f"{path} {query}"] = found[:5]
        assert not leaks, f"OHS answers carrying medical values: {leaks}"
        for must in ("/api/v1/exams", "/api/v1/exams/{event_id}", "/api/v1/stats/exams", "/api/v1/kiosks",
                     "/api/v1/analytics/epi/febrile", "/api/v1/analytics/epi/bp", "/api/v1/analytics/rt/febrile",
                     "/api/v1/analytics/compare/hypertension-noise", "/api/v1/analytics/alarms",
                     "/api/v1/vaccination", "/api/v1/smoking/programme", "/api/v1/risk-groups/report",
                     "/api/v1/risk-register", "/api/v1/fleet"):
            assert must in answered, f"{must} did not answer OHS: the walk would prove nothing about it"
        # the same walk as the medic does see the values: the check above can fail
        medic_exam = client.get(f"/api/v1/exams/{values['event_id']}", headers=auth(MEDIC)).json()
        assert medical_keys(medic_exam)
        # what OHS cannot read at all
        for path in ("/api/v1/medic/queue", f"/api/v1/workers/{values['personnel_number']}",
                     "/api/v1/analytics/noise/workers", f"/api/v1/risk-groups/{values['worker_id']}/assessments"):
            assert client.get(path, headers=auth(OHS)).status_code == 403, path


def test_every_get_route_answers_each_role_through_its_model(tmp_path):
    """On the same fed hub, every GET route answers every role with 200 or a refusal (403/404/422), never
    a 500: the declared models match what the handlers build (a mismatch is a ResponseValidationError)."""
    with hub_client(tmp_path) as (client, app):
        _seed(client, app.state.store)
        values = _path_values(client)
        assert app.state.store.scalar("SELECT count(*) FROM conflicts") == 1
        routes = [r for r in iter_route_contexts(app.routes)
                  if isinstance(r.original_route, APIRoute) and r.include_in_schema and "GET" in r.methods]
        failed, ok = {}, 0
        for route in routes:
            for token in (MEDIC, OHS, ADMIN):
                response = client.get(route.path.format(**values), headers=auth(token))
                if response.status_code >= 500:
                    failed[f"{route.path} as {token[:5]}"] = response.text[:200]
                ok += response.status_code == 200
        assert not failed, failed
        assert ok >= 60, f"only {ok} answers: the walk must reach the routes"
