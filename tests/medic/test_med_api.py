"""Medic REST API on a real SQLite store: roles, queue, audited reads, decision rules, immutability."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hub import medic
from hub.api import create_app
from hub.store import Store
from tests.medic.medic_helpers import (
    ADMIN,
    MEDIC,
    MEDIC2,
    OHS,
    alcohol_confirmed,
    auth,
    normal,
    put_exams,
    severe_bp,
    store_config,
)


@pytest.fixture
def hub(tmp_path):
    config = store_config(tmp_path)
    store = Store(config.storage.path)
    with TestClient(create_app(config, store)) as client:
        yield client, store
    store.close()


def audit_rows(store: Store, action: str) -> list[dict]:
    return store.query("SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action])


def test_every_medic_route_refuses_other_roles(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp()])
    routes = [("get", "/api/v1/medic/queue", None), ("get", f"/api/v1/medic/exams/{event_id}", None),
              ("post", f"/api/v1/medic/exams/{event_id}/decision", {"decision": "admitted"}),
              ("get", "/api/v1/medic/decisions", None)]
    for method, path, body in routes:
        for token in (OHS, ADMIN):
            response = client.request(method, path, headers=auth(token), json=body)
            assert response.status_code == 403, (path, token)
            assert "184" not in response.text and "systolic" not in response.text
        assert client.request(method, path, json=body).status_code == 401
    assert store.scalar("SELECT count(*) FROM audit_log") == 0
    assert store.scalar("SELECT count(*) FROM medic_decisions") == 0


def _without_ids(value):
    """The JSON without its identifiers (keys ending in ``id``)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if not k.endswith("id")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def test_queue_holds_needs_medic_and_refusals_oldest_first_without_values(hub):
    client, store = hub
    now = datetime.now(timezone.utc)
    old_alcohol, _admitted, new_bp = put_exams(store, [
        alcohol_confirmed(finished=now - timedelta(hours=2)), normal(), severe_bp(finished=now - timedelta(minutes=5))])
    body = client.get("/api/v1/medic/queue", headers=auth(MEDIC)).json()
    assert [item["event_id"] for item in body["items"]] == [old_alcohol, new_bp]
    assert body["total"] == 2 and body["medic"] == "Петрова А. В., фельдшер"
    first, second = body["items"]
    assert first["outcome"] == "not_admitted" and first["intoxication"] is True
    assert second["fired_rules"] == ["bp.severe"] and second["intoxication"] is False
    assert first["waiting_s"] >= 7200 - 5
    # no measured value anywhere (ids left out: a random event id may hold "184")
    assert "measurements" not in first and "184" not in json.dumps(_without_ids(body))


def test_exam_detail_has_values_with_units_and_reasons_and_is_audited(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp("W00777")])
    exam = client.get(f"/api/v1/medic/exams/{event_id}", headers=auth(MEDIC)).json()
    systolic = next(m for m in exam["measurements"] if m["field"] == "systolic_mmhg")
    assert (systolic["value"], systolic["unit"]) == (184, "mmHg")
    assert {m["field"]: m["unit"] for m in exam["measurements"]}["brac_mg_l"] == "mg/L"
    assert exam["fired"][0]["rule"] == "bp.severe" and "reference.md" in exam["fired"][0]["source"]
    assert "184/112" in exam["reasons"][0]["ru"]
    assert exam["decisions"] == [] and exam["current_decision"] is None
    (row,) = audit_rows(store, "read_exam")
    assert (row["actor"], row["role"], row["subject"]) == ("Петрова А. В., фельдшер", "medic", "worker W00777")
    assert json.loads(row["detail"])["event_id"] == event_id
    assert client.get("/api/v1/medic/exams/nope", headers=auth(MEDIC)).status_code == 404
    assert len(audit_rows(store, "read_exam")) == 1


def test_decision_leaves_the_queue_is_audited_and_queued_without_a_broker(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp()])
    response = client.post(f"/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                           json={"decision": "not_admitted", "referral": "к терапевту поликлиники"})
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["medic"] == "Петрова А. В., фельдшер" and saved["kiosk_outcome"] == "needs_medic"
    assert saved["delivery"] == "queued" and saved["published_at"] is None
    assert saved["notify_employer"] is False  # a BP finding is not intoxication
    queue = client.get("/api/v1/medic/queue", headers=auth(MEDIC)).json()
    assert queue["items"] == [] and queue["unpublished_decisions"] == 1
    (row,) = audit_rows(store, "medic_decision")
    assert json.loads(row["detail"])["decision_id"] == saved["decision_id"]


def test_overriding_the_kiosk_needs_a_reason_and_notify_follows_266n(hub):
    client, store = hub
    (event_id,) = put_exams(store, [alcohol_confirmed()])
    path = f"/api/v1/medic/exams/{event_id}/decision"
    response = client.post(path, headers=auth(MEDIC), json={"decision": "admitted", "reason": "   "})
    assert response.status_code == 422 and response.json()["detail"]["field"] == "reason"
    response = client.post(path, headers=auth(MEDIC), json={"decision": "admitted", "reason": "x",
                                                              "notify_employer": True})
    assert response.status_code == 422 and response.json()["detail"]["field"] == "notify_employer"
    assert store.scalar("SELECT count(*) FROM medic_decisions") == 0
    confirmed = client.post(path, headers=auth(MEDIC), json={"decision": "not_admitted"})
    assert confirmed.status_code == 201 and confirmed.json()["notify_employer"] is True


def test_second_decision_is_a_409_and_a_correction_keeps_both(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp()])
    path = f"/api/v1/medic/exams/{event_id}/decision"
    first = client.post(path, headers=auth(MEDIC), json={"decision": "not_admitted"}).json()
    clash = client.post(path, headers=auth(MEDIC2), json={"decision": "admitted"})
    assert clash.status_code == 409 and first["decision_id"] in clash.json()["detail"]["message"]
    no_reason = client.post(path, headers=auth(MEDIC2), json={"decision": "admitted",
                                                                "supersedes": first["decision_id"]})
    assert no_reason.status_code == 422 and no_reason.json()["detail"]["field"] == "reason"
    fixed = client.post(path, headers=auth(MEDIC2), json={
        "decision": "admitted", "supersedes": first["decision_id"],
        "reason": "повторное измерение 138/86 после отдыха 20 мин"})
    assert fixed.status_code == 201
    stale = client.post(path, headers=auth(MEDIC), json={"decision": "not_admitted", "reason": "r",
                                                          "supersedes": first["decision_id"]})
    assert stale.status_code == 409
    exam = client.get(f"/api/v1/medic/exams/{event_id}", headers=auth(MEDIC)).json()
    old, new = exam["decisions"]
    assert (old["decision"], old["current"], old["superseded_by"]) == ("not_admitted", False, fixed.json()["decision_id"])
    assert (new["decision"], new["current"], new["supersedes"]) == ("admitted", True, first["decision_id"])
    assert exam["current_decision"]["decision_id"] == new["decision_id"]
    assert new["medic"] == "Сидоров И. И., врач"


def test_decisions_cannot_be_changed_or_deleted_in_the_database(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp()])
    client.post(f"/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC), json={"decision": "admitted"})
    for sql in ("UPDATE medic_decisions SET decision = 'not_admitted'",
                "UPDATE medic_decisions SET medic = 'someone else'",
                "DELETE FROM medic_decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="never deleted|immutable"):
            with store.lock:
                store.conn.execute(sql)
    with store.lock:
        store.conn.execute("UPDATE medic_decisions SET published_at = '2026-01-01T00:00:00+00:00'")
        with pytest.raises(sqlite3.IntegrityError, match="set once"):
            store.conn.execute("UPDATE medic_decisions SET published_at = '2026-02-02T00:00:00+00:00'")
    assert store.scalar("SELECT decision FROM medic_decisions") == "admitted"


def test_decision_list_filters_orders_and_is_audited(hub):
    client, store = hub
    ids = put_exams(store, [severe_bp("W1"), alcohol_confirmed("W2"), severe_bp("W3")])
    for event_id in ids:
        client.post(f"/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC), json={"decision": "not_admitted"})
    listed = client.get("/api/v1/medic/decisions", headers=auth(MEDIC)).json()
    assert [d["event_id"] for d in listed["items"]] == ids and listed["total"] == 3
    newest = client.get("/api/v1/medic/decisions?order=desc&limit=1", headers=auth(MEDIC)).json()
    assert newest["items"][0]["worker_id"] == "W3" and newest["next_offset"] == 1
    only = client.get("/api/v1/medic/decisions?worker_id=W2", headers=auth(MEDIC)).json()
    assert [d["worker_id"] for d in only["items"]] == ["W2"] and only["items"][0]["notify_employer"] is True
    reads = audit_rows(store, "read_medic_decisions")
    assert len(reads) == 3 and len(json.loads(reads[0]["detail"])["decision_ids"]) == 3


def test_bad_decision_bodies_are_refused_with_the_field(hub):
    client, store = hub
    (event_id,) = put_exams(store, [severe_bp()])
    path = f"/api/v1/medic/exams/{event_id}/decision"
    assert client.post(path, headers=auth(MEDIC), json={"decision": "maybe"}).status_code == 422
    assert client.post(path, headers=auth(MEDIC), json={"decision": "admitted", "medic": "me"}).status_code == 422
    long = client.post(path, headers=auth(MEDIC), json={"decision": "admitted", "reason": "x" * 2001})
    assert long.status_code == 422 and long.json()["detail"]["field"] == "reason"
    assert client.post("/api/v1/medic/exams/none/decision", headers=auth(MEDIC),
                       json={"decision": "admitted"}).status_code == 404
    assert store.scalar("SELECT count(*) FROM medic_decisions") == 0


def test_queue_uses_its_partial_index(hub):
    _, store = hub
    medic.ensure_schema(store)
    plan = store.query("EXPLAIN QUERY PLAN SELECT event_id FROM exams e WHERE e.outcome IN ('needs_medic', "
                       "'not_admitted') ORDER BY e.finished_at")
    assert any("exams_medic_queue" in row["detail"] for row in plan), plan
