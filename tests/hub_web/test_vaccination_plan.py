"""Vaccinations from the live registry and the worker's health plan (issue 13: seed 000 §2.3.1.8, health plan)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.store import Store
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth, normal, put_exams, store_config


def person(n: int, **extra) -> dict:
    return {"personnel_number": f"W{n:05d}", "site": "plant-1", "full_name": f"Работник {n}",
            "birth_date": "1985-03-01", "sex": "M", "unit": "цех 1", **extra}


@pytest.fixture
def client(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        staff = [person(i) for i in range(1, 8)] + [person(8, unit="лаборатория", groups=["health"])]
        assert client.put("/api/v1/workers", json={"workers": staff}, headers=auth(ADMIN)).status_code == 200
        yield client, store
    store.close()


def test_vaccination_records_and_the_live_picture(client):
    api, store = client
    today = date.today()
    for n in range(1, 7):  # six of eight have diphtheria-tetanus within ten years
        added = api.post(f"/api/v1/workers/W{n:05d}/vaccinations", headers=auth(MEDIC),
                         json={"kind": "dose", "vaccine": "diphtheria_tetanus", "on_date": str(today - timedelta(days=400))})
        assert added.status_code == 201, added.text
    api.post("/api/v1/workers/W00007/vaccinations", headers=auth(MEDIC),
             json={"kind": "exemption", "vaccine": "diphtheria_tetanus", "reason": "contraindication",
                   "on_date": str(today - timedelta(days=30))})
    refused = api.post("/api/v1/workers/W00001/vaccinations", headers=auth(MEDIC),
                       json={"kind": "dose", "vaccine": "smallpox", "on_date": str(today)})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "vaccine"
    assert api.post("/api/v1/workers/W00001/vaccinations", headers=auth(OHS),
                    json={"kind": "dose", "vaccine": "influenza", "on_date": str(today)}).status_code == 403
    assert api.post("/api/v1/workers/W09999/vaccinations", headers=auth(MEDIC),
                    json={"kind": "dose", "vaccine": "influenza", "on_date": str(today)}).status_code == 404

    picture = api.get("/api/v1/vaccination", params={"site": "plant-1"}, headers=auth(MEDIC)).json()
    dt = [r for r in picture["coverage"] if r["vaccine"] == "diphtheria_tetanus"][0]
    assert (dt["applicable"], dt["covered"], dt["exempt"]) == (8, 6, 1)
    overdue_or_due = {r["worker"] for r in picture["due"] + picture["overdue"] if r["vaccine"] == "diphtheria_tetanus"}
    assert overdue_or_due == {"W00008"}, "the one worker with no record and no exemption is due"
    assert any(r["worker"] == "W00008" and r["vaccine"] == "influenza" for r in picture["due"] + picture["overdue"]), \
        "a health worker is in the influenza calendar's group"
    assert ("read_vaccination", "Петрова А. В., фельдшер") in [
        (r["action"], r["actor"]) for r in store.query("SELECT action, actor FROM audit_log")]

    ohs = api.get("/api/v1/vaccination", params={"site": "plant-1"}, headers=auth(OHS)).json()
    assert "statuses" not in ohs and "due" not in ohs and "overdue" not in ohs, "no individual status for OHS"
    dt = [r for r in ohs["coverage"] if r["vaccine"] == "diphtheria_tetanus"][0]
    assert dt["covered"] is None and dt["suppressed"], "2 not covered of 8 is a small cell: hidden"
    groups = [r for r in ohs["coverage_by_group"] if r["vaccine"] == "diphtheria_tetanus"]
    assert all(r["covered"] is None for r in groups), "the laboratory's one worker and, complementarily, the shop"


def test_health_plan_joins_what_the_hub_holds(client):
    api, store = client
    put_exams(store, [normal("W00001")])
    assessment = api.post("/api/v1/risk-groups/W00001/assessments", headers=auth(MEDIC),
                          json={"criteria": {"c1": 3, "c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False,
                                             "c8": False}}).json()
    api.post(f"/api/v1/risk-groups/assessments/{assessment['id']}/decision", headers=auth(MEDIC),
             json={"decision": "overridden", "group": 3, "reason": "стаж во вредных условиях"})
    api.post("/api/v1/workers/W00001/vaccinations", headers=auth(MEDIC),
             json={"kind": "dose", "vaccine": "diphtheria_tetanus", "on_date": str(date.today() - timedelta(days=100))})
    assert api.get("/api/v1/workers/W00001/health-plan", headers=auth(OHS)).status_code == 403
    plan = api.get("/api/v1/workers/W00001/health-plan", headers=auth(MEDIC)).json()
    assert plan["full_name"] == "Работник 1" and plan["confidential"] is True
    assert plan["risk_group"]["group"] == 3 and plan["risk_group"]["status"] == "confirmed"
    assert plan["exams"]["shift_exams"] == 1 and plan["exams"]["last_shift_exam"]["conclusion"] == "admitted"
    assert {v["vaccine"]: v["status"] for v in plan["vaccinations"]}["diphtheria_tetanus"] == "covered"
    assert any(item["measure"].get("ru", "").startswith("динамическое наблюдение") for item in plan["plan"])
    exported = api.get("/api/v1/workers/W00001/health-plan", params={"format": "csv"}, headers=auth(MEDIC))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows and {r["worker"] for r in rows} == {"W00001"}
    reads = [r["action"] for r in store.query("SELECT action FROM audit_log WHERE action = 'read_health_plan'")]
    assert len(reads) == 2
