"""Risk-group confirmation (seed 004): proposal stored, physician confirms or overrides, both kept; report."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.models.registry import run_model
from hub.store import Store
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth, store_config

#: docs/models/risk-group.md example: c1 3, c2 2, c3 1, c4 2, c5 1, c6 1 -> base 1, +1 -> group 2, score 4
READY = {"c1": 3, "c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False, "c8": False}
#: the raw-data example of the same page: final group 4, score 15
RAW = {"c1": {"class": "3.2", "agents": ["allergen"]},
       "c2": {"exposures": [{"factor": "local vibration", "kind": "long_latency", "years": 12}]},
       "c3": {"conditions": ["occupational_exposure_signs"]}, "c4": {"icd10": ["I21.4", "E11.2"]},
       "c5": {"smoking": "current", "cigarettes_per_day": 25, "bmi": 31}, "c6": {"prognosis": "doubtful"},
       "c7": True, "c8": False}


@pytest.fixture
def hub(tmp_path):
    config = store_config(tmp_path)
    store = Store(config.storage.path)
    with TestClient(create_app(config, store)) as client:
        yield client, store
    store.close()


def assess(client, worker: str, criteria: dict, **extra) -> dict:
    response = client.post(f"/api/v1/risk-groups/{worker}/assessments", headers=auth(MEDIC),
                           json={"criteria": criteria, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def decide(client, assessment_id: int, **body):
    return client.post(f"/api/v1/risk-groups/assessments/{assessment_id}/decision", headers=auth(MEDIC), json=body)


def test_proposal_is_the_models_and_confirmation_keeps_it(hub):
    client, store = hub
    made = assess(client, "w-17", RAW, nosology="vibration disease", assessed_at="2025-11-03")
    expected = run_model("risk-group", {"worker_id": "w-17", "nosology": "vibration disease", "criteria": RAW})
    assert (made["proposed_group"], made["score"]) == (expected["proposed_group"], expected["score"]) == (4, 15)
    assert made["result"] == json.loads(json.dumps(expected))
    assert made["status"] == "proposed" and made["final_group"] is None and made["year"] == 2025
    confirmed = decide(client, made["id"], decision="confirmed").json()
    assert (confirmed["status"], confirmed["proposed_group"], confirmed["final_group"]) == ("confirmed", 4, 4)
    assert confirmed["physician"] == "Петрова А. В., фельдшер" and confirmed["decided_at"]
    actions = [r["action"] for r in store.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["create_risk_assessment", "decide_risk_assessment"]


def test_override_needs_a_reason_and_a_different_group_and_keeps_both(hub):
    client, store = hub
    made = assess(client, "w-1", READY)
    assert made["proposed_group"] == 2
    for body, field in (({"decision": "overridden", "group": 3}, "reason"),
                        ({"decision": "overridden", "group": 3, "reason": "  "}, "reason"),
                        ({"decision": "overridden", "group": 2, "reason": "same"}, "group"),
                        ({"decision": "overridden", "reason": "no group"}, "group"),
                        ({"decision": "confirmed", "group": 5}, "group")):
        response = decide(client, made["id"], **body)
        assert response.status_code == 422 and response.json()["detail"]["field"] == field, body
    assert decide(client, made["id"], decision="overridden", group=6, reason="x").status_code == 422
    done = decide(client, made["id"], decision="overridden", group=3, reason="progression on the last exam").json()
    assert (done["proposed_group"], done["final_group"], done["group"], done["status"]) == (2, 3, 3, "overridden")
    again = decide(client, made["id"], decision="confirmed")
    assert again.status_code == 409
    assert decide(client, 9999, decision="confirmed").status_code == 404
    with pytest.raises(sqlite3.IntegrityError):
        with store.lock:
            store.conn.execute("UPDATE risk_group_assessments SET final_group = 5")
    with pytest.raises(sqlite3.IntegrityError):
        with store.lock:
            store.conn.execute("DELETE FROM risk_group_assessments")
    row = store.query("SELECT proposed_group, final_group, reason FROM risk_group_assessments")[0]
    assert row == {"proposed_group": 2, "final_group": 3, "reason": "progression on the last exam"}


def test_invalid_criteria_name_the_field_and_store_nothing(hub):
    client, store = hub
    response = client.post("/api/v1/risk-groups/w-1/assessments", headers=auth(MEDIC),
                           json={"criteria": {**READY, "c1": 7}})
    assert response.status_code == 422 and response.json()["detail"]["field"].startswith("criteria.c1")
    response = client.post("/api/v1/risk-groups/w-1/assessments", headers=auth(MEDIC),
                           json={"criteria": READY, "physician": {"group": 3}})
    assert response.status_code == 422  # the decision has its own endpoint
    assert store.scalar("SELECT count(*) FROM risk_group_assessments") == 0


def test_individual_assessments_are_medic_only_and_audited(hub):
    client, store = hub
    made = assess(client, "w-9", READY)
    for token in (OHS, ADMIN):
        assert client.get("/api/v1/risk-groups/w-9/assessments", headers=auth(token)).status_code == 403
        assert client.post("/api/v1/risk-groups/w-9/assessments", headers=auth(token),
                           json={"criteria": READY}).status_code == 403
        assert client.post(f"/api/v1/risk-groups/assessments/{made['id']}/decision", headers=auth(token),
                           json={"decision": "confirmed"}).status_code == 403
    listed = client.get("/api/v1/risk-groups/w-9/assessments", headers=auth(MEDIC)).json()
    assert [item["id"] for item in listed["items"]] == [made["id"]] and listed["items"][0]["input"]["criteria"]
    (row,) = store.query("SELECT * FROM audit_log WHERE action = 'read_risk_assessments'")
    assert row["subject"] == "worker w-9" and json.loads(row["detail"])["assessment_ids"] == [made["id"]]


def test_report_is_aggregates_by_final_group_with_yearly_dynamics(hub):
    client, store = hub
    empty = client.get("/api/v1/risk-groups/report", headers=auth(OHS)).json()
    assert empty["workers"] == 0 and empty["dynamics"] == []
    # 2024: a -> group 1 (score 0), b -> group 3 proposed, overridden to 4 (score 10)
    a24 = assess(client, "a", {"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}, assessed_at="2024-05-01")
    b24 = assess(client, "b", {"c1": 3, "c2": 3, "c3": 2, "c4": 2, "c5": 2, "c6": 2}, assessed_at="2024-05-01")
    decide(client, b24["id"], decision="overridden", group=4 if b24["proposed_group"] != 4 else 5, reason="clinic")
    # 2025: a re-assessed twice (the latest counts), b still awaiting the physician
    assess(client, "a", {"c1": 5, "c2": 5, "c3": 1, "c4": 1, "c5": 1, "c6": 1}, assessed_at="2025-05-01")
    a25 = assess(client, "a", {"c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}, assessed_at="2025-06-01")
    b25 = assess(client, "b", {"c1": 3, "c2": 2, "c3": 2, "c4": 2, "c5": 2, "c6": 2}, assessed_at="2025-05-01")
    assess(client, "n", {"c1": 2, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}, assessed_at="2025-02-01",
           exam="preliminary")
    decide(client, a24["id"], decision="confirmed")
    decide(client, a25["id"], decision="confirmed")

    report = client.get("/api/v1/risk-groups/report", headers=auth(MEDIC)).json()
    assert report["assessments"] == 5
    y24, y25 = report["years"]["2024"], report["years"]["2025"]
    b24_final = 4 if b24["proposed_group"] != 4 else 5
    assert y24["periodic"]["distribution"][str(b24_final)] == 1 and y24["periodic"]["distribution"]["1"] == 1
    assert y24["overridden_by_physician"] == 1 and y25["awaiting_physician"] == 2
    assert y25["periodic"]["workers"] == 2 and y25["preliminary"]["workers"] == 1
    assert report["enterprise_average_score"] == {"2024": (0 + b24["score"]) / 2, "2025": (0 + b25["score"]) / 2}
    assert report["dynamics"][1]["change_from_previous_year"]["average_score"] == pytest.approx(
        (b25["score"] - b24["score"]) / 2)
    assert report["distribution_latest_year"]["year"] == 2025
    text = json.dumps(report)
    assert '"a"' not in text and '"b"' not in text and "worker_ids" not in text and "worker_results" not in text
    # OHS and admin: two workers a year is under k = 5, so every group count, share and average is hidden
    ohs = client.get("/api/v1/risk-groups/report", headers=auth(OHS)).json()
    assert ohs["years"]["2024"]["periodic"]["workers"] == 2
    assert set(ohs["years"]["2024"]["periodic"]["distribution"].values()) == {None}
    assert ohs["years"]["2024"]["periodic"]["suppressed"] is True
    assert ohs["enterprise_average_score"] == {"2024": None, "2025": None}
    assert ohs["dynamics"][1]["change_from_previous_year"] is None and ohs["privacy"]["suppressed_cells"] > 0
    only = client.get("/api/v1/risk-groups/report?since_year=2025", headers=auth(ADMIN)).json()
    assert list(only["years"]) == ["2025"]
    assert client.get("/api/v1/risk-groups/report", headers=auth(MEDIC)).status_code == 200
    assert client.get("/api/v1/risk-groups/report").status_code == 401
    assert store.scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'read%'") == 0
