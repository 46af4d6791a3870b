"""The fatigue / stress screening (issue 13, seed 002 B.3.3.5) reaches the medic and nobody else:
the medic's exam views carry the answers, scores and bands; an OHS or admin response about the
same exam carries none of it (323-FZ art. 13). Real hub app on each storage back end."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from edge_agent.workflow.fatigue import FatigueSettings, screening_record
from firmware_bridges import fatigue
from hub.api import create_app
from hub.store import Store
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth, normal, put_exams, store_config

#: Words only the screening puts into an exam record (instrument names, answer and band labels).
SCREENING_WORDS = ("fatigue", "Karolinska", "Elo", "сонлив", "stress", "стресс", "sleepy", "kss")


def screened_exam(worker: str = "W00901") -> dict:
    settings = FatigueSettings(enabled=True)
    table = settings.table()
    asked = settings.asked(table)
    body = normal(worker)
    body["fatigue"] = screening_record(table, asked, fatigue.items(table, asked), {"kss": 8, "elo_stress": 4},
                                       settings, "pre_shift")
    return body


@pytest.fixture
def hub(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        yield client, store
    store.close()


def test_the_medic_sees_the_screening_and_ohs_and_admin_responses_carry_none_of_it(hub):
    client, store = hub
    (event_id,) = put_exams(store, [screened_exam()])

    tablet = client.get(f"/api/v1/medic/exams/{event_id}", headers=auth(MEDIC)).json()
    assert tablet["fatigue"]["results"]["kss"]["score"] == 8 and tablet["fatigue"]["positive"] == ["kss", "elo_stress"]
    assert [a["item"] for a in tablet["fatigue"]["answers"]] == ["kss", "elo_stress"]
    medical = client.get(f"/api/v1/exams/{event_id}", headers=auth(MEDIC)).json()
    assert medical["fatigue"]["results"]["elo_stress"]["band"]["ru"] == "выраженный стресс"
    listed = client.get("/api/v1/exams?worker_id=W00901", headers=auth(MEDIC)).json()["items"]
    assert listed[0]["fatigue"]["action"] == "inform_medic"  # the worker card's history reads this list

    for token in (OHS, ADMIN):
        one = client.get(f"/api/v1/exams/{event_id}", headers=auth(token))
        many = client.get("/api/v1/exams?worker_id=W00901", headers=auth(token))
        assert one.status_code == many.status_code == 200
        assert one.json()["outcome"] == "admitted" and many.json()["items"][0]["exam_id"] == one.json()["exam_id"]
        for response in (one, many):
            assert "fatigue" not in json.dumps(response.json())
            for word in SCREENING_WORDS:
                assert word.lower() not in response.text.lower(), (token, word)
        assert client.get(f"/api/v1/medic/exams/{event_id}", headers=auth(token)).status_code == 403
