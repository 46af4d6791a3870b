"""The stored risk register (seed 002): OHS keeps rows, reading evaluates them with the register model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.store import Store
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth, store_config

#: Seed 002's worked example shape: a fuel-fire hazard (level 5) stays unacceptable by the severity veto.
NOISE = {"code": "Ф1", "owner": "цех 1", "factor": "шум", "hazard": "шум на рабочем месте оператора пресса",
         "hazard_level": 3, "exposure_duration": 4, "exposure_frequency": 4, "probability": 4,
         "measures": [{"text": "кожух пресса", "control": "engineering", "owner": "гл. механик",
                       "deadline": "2026-01-15", "status": "in_progress"},
                      {"text": "беруши", "control": "ppe", "owner": "мастер", "deadline": "2030-01-01"}],
         "residual": {"hazard_level": 2, "exposure_duration": 4, "exposure_frequency": 4, "probability": 2}}
FIRE = {"code": "Х1", "factor": "топливо", "hazard": "пожар топлива", "hazard_level": 5, "exposure_duration": 1,
        "exposure_frequency": 1, "probability": 1}


@pytest.fixture
def client(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        yield client
    store.close()


def test_ohs_keeps_the_register_and_reading_evaluates_it(client):
    noise = client.post("/api/v1/risk-register", json={"site": "plant-1", "row": NOISE}, headers=auth(OHS))
    assert noise.status_code == 201, noise.text
    fire = client.post("/api/v1/risk-register", json={"site": "plant-1", "row": FIRE}, headers=auth(ADMIN)).json()
    register = client.get("/api/v1/risk-register", params={"as_of": "2026-12-01"}, headers=auth(OHS)).json()
    rows = {r["code"]: r for r in register["rows"]}
    assert rows["Ф1"]["score"] == 15 and rows["Ф1"]["cell"] == "D3"
    assert rows["Ф1"]["residual"]["score"] == 12 and rows["Ф1"]["residual"]["cell"] == "B2"
    assert rows["Ф1"]["overdue"] == ["кожух пресса"], "a measure past its deadline and not done is overdue"
    assert rows["Х1"]["acceptable"] is False, "hazard level 5 is never acceptable by score alone (severity veto)"
    assert rows["Х1"]["id"] == fire["id"] and rows["Х1"]["site"] == "plant-1"
    assert register["matrix"]["cells"][3][2] == "high" and len(register["matrix"]["likelihood_codes"]) == 5

    stored = client.get(f"/api/v1/risk-register/{noise.json()['id']}", headers=auth(MEDIC)).json()
    stored["row"]["measures"][0]["status"] = "done"
    changed = client.put(f"/api/v1/risk-register/{stored['id']}", json={"version": stored["version"], "row": stored["row"]},
                         headers=auth(OHS))
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = client.put(f"/api/v1/risk-register/{stored['id']}", json={"version": 1, "row": stored["row"]},
                       headers=auth(OHS))
    assert stale.status_code == 409, "an edit made on an old version is refused, not lost silently"
    again = client.get("/api/v1/risk-register", params={"as_of": "2026-12-01"}, headers=auth(OHS)).json()
    assert {r["code"]: r for r in again["rows"]}["Ф1"]["overdue"] == []

    assert client.delete(f"/api/v1/risk-register/{fire['id']}", headers=auth(OHS)).status_code == 200
    assert [r["code"] for r in client.get("/api/v1/risk-register", headers=auth(OHS)).json()["rows"]] == ["Ф1"]
    history = client.get(f"/api/v1/risk-register/{fire['id']}", headers=auth(OHS)).json()["history"]
    assert [(h["change"], h["changed_by"]) for h in history] == [("created", "admin"), ("retired", "ОТиПБ")]


def test_register_refuses_bad_rows_and_other_roles(client):
    assert client.post("/api/v1/risk-register", json={"site": "plant-1", "row": NOISE},
                       headers=auth(MEDIC)).status_code == 403
    out_of_scale = client.post("/api/v1/risk-register", json={"site": "plant-1", "row": {**FIRE, "severity": 9}},
                               headers=auth(OHS))
    assert out_of_scale.status_code == 422 and out_of_scale.json()["detail"]["field"] == "row.severity"
    beyond = client.post("/api/v1/risk-register", json={"site": "plant-1", "row": {**FIRE, "probability": 7}},
                         headers=auth(OHS))
    assert beyond.status_code == 422, "a score outside the configured scale is refused when stored"
    assert client.get("/api/v1/risk-register", headers=auth(OHS)).json()["rows"] == []
    missing = client.post("/api/v1/risk-register", json={"site": "plant-1", "row": {"code": "Х2"}}, headers=auth(OHS))
    assert missing.status_code == 422 and missing.json()["detail"]["field"].startswith("row.")
    unknown = client.post("/api/v1/risk-register", json={"site": "Plant 1", "row": FIRE}, headers=auth(OHS))
    assert unknown.status_code == 422
    assert client.put("/api/v1/risk-register/999", json={"version": 1, "row": FIRE}, headers=auth(OHS)).status_code == 404
