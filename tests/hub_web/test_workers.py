"""The worker registry, individual norms approved by a medic, and rosters pushed to the kiosks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from fastapi.testclient import TestClient

from edge_agent.agent import KioskAgent
from hub.api import create_app
from hub.service import HubService
from hub.store import Store
from tests.foundation.helpers import hub_config, kiosk_config, wait_until
from tests.medic.medic_helpers import (
    ADMIN,
    MEDIC,
    NORMAL,
    OHS,
    api_section,
    auth,
    exam_from_rules,
    put_exams,
    store_config,
)
from tests.medic.test_med_delivery import Commands, start_kiosk

PIN_HASH = "pbkdf2_sha256$50000$" + "ab" * 16 + "$" + "cd" * 32
IVANOV = {"personnel_number": "W00701", "site": "plant-1", "full_name": "Иванов Пётр Сергеевич",
          "birth_date": "1980-06-15", "sex": "M", "badges": ["0004512345"], "pin_hash": PIN_HASH}


@pytest.fixture
def client(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        yield client, store
    store.close()


def _history(store, worker: str, pressures: list[tuple[int, int, int]]):
    now = datetime.now(timezone.utc)
    bodies = []
    for i, (sys_, dia, pulse) in enumerate(pressures):
        body = exam_from_rules(worker, [{"minute": 0, **NORMAL, "systolic_mmhg": sys_, "diastolic_mmhg": dia,
                                         "pulse_bpm": pulse}], finished=now - timedelta(days=len(pressures) - i))
        bodies.append(body)
    return put_exams(store, bodies)


def test_registry_card_and_norm_approval(client):
    api, store = client
    assert api.put("/api/v1/workers", json={"workers": [IVANOV]}, headers=auth(OHS)).status_code == 403
    bad = api.put("/api/v1/workers", json={"workers": [IVANOV, {**IVANOV, "personnel_number": "W00702",
                                                                  "birth_date": "1850-01-01"}]}, headers=auth(ADMIN))
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "workers[1].birth_date"
    assert api.get("/api/v1/workers/W00701", headers=auth(ADMIN)).status_code == 404, "all or nothing"
    assert api.put("/api/v1/workers", json={"workers": [IVANOV]}, headers=auth(ADMIN)).json() == {
        "stored": 1, "sites": ["plant-1"]}
    assert api.get("/api/v1/workers/W00701", headers=auth(OHS)).status_code == 403
    card = api.get("/api/v1/workers/W00701", headers=auth(MEDIC)).json()
    today = date.today()
    assert card["full_name"] == "Иванов Пётр Сергеевич" and card["sex"] == "M" and card["norm_in_force"] is None
    assert card["age"] == today.year - 1980 - ((today.month, today.day) < (6, 15))
    assert "pin_hash" not in card
    assert ("read_worker", "Петрова А. В., фельдшер") in [
        (r["action"], r["actor"]) for r in store.query("SELECT action, actor FROM audit_log")]

    _history(store, "W00701", [(130, 84, 74)] * 9)
    few = api.post("/api/v1/workers/W00701/norms", headers=auth(MEDIC))
    assert few.status_code == 422 and "at least 10" in few.json()["detail"]["message"]
    # ten more admitted exams, and one 184/112 the kiosk sent to the medic: it never becomes part of a norm
    _history(store, "W00701", [(128, 82, 72), (132, 86, 76)] * 5 + [(184, 112, 90)])
    proposal = api.post("/api/v1/workers/W00701/norms", headers=auth(MEDIC)).json()
    assert (proposal["systolic_mmhg"], proposal["diastolic_mmhg"], proposal["pulse_bpm"]) == (130, 84, 74)
    assert proposal["n_readings"] == 19 and proposal["approved_at"] is None
    approved = api.post(f"/api/v1/workers/W00701/norms/{proposal['id']}/approve", headers=auth(MEDIC)).json()
    assert approved["norm_in_force"]["approved_by"] == "Петрова А. В., фельдшер"
    assert api.post(f"/api/v1/workers/W00701/norms/{proposal['id']}/approve", headers=auth(MEDIC)).status_code == 409
    second = api.post("/api/v1/workers/W00701/norms", headers=auth(MEDIC)).json()
    card = api.post(f"/api/v1/workers/W00701/norms/{second['id']}/approve", headers=auth(MEDIC)).json()
    assert card["norm_in_force"]["id"] == second["id"]
    assert [n["withdrawn_at"] is not None for n in card["norms"]] == [False, True], "the old norm is kept, withdrawn"
    # the admin keeps the registry: who approved which norm and when, never its values (medic only)
    admin_card = api.get("/api/v1/workers/W00701", headers=auth(ADMIN)).json()
    assert admin_card["norm_in_force"]["id"] == second["id"] and len(admin_card["norms"]) == 2
    values = {"systolic_mmhg", "diastolic_mmhg", "pulse_bpm"}
    assert not values & (set(admin_card["norm_in_force"]) | {k for n in admin_card["norms"] for k in n}), admin_card
    assert values <= set(card["norm_in_force"])
    retired = api.delete("/api/v1/workers/W00701", headers=auth(ADMIN)).json()
    assert retired["retired_at"] and not values & {k for n in retired["norms"] for k in n}


def test_kiosks_receive_the_roster_with_the_approved_norm(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    first = Commands()
    kiosk1 = start_kiosk(tmp_path, broker, first)
    kiosk2 = None
    try:
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM kiosks") == 1, message="the kiosk known to the hub")
        put = httpx.put(hub.url + "/api/v1/workers", json={"workers": [IVANOV]}, headers=auth(ADMIN))
        assert put.status_code == 200, put.text

        def rosters(commands):
            return [c.args for c in commands.items if c.type == "roster_update"]

        wait_until(lambda: rosters(first), timeout=30, message="the roster at kiosk-01")
        roster = rosters(first)[-1]
        assert roster["full"] is True and roster["version"] == "plant-1.1"
        assert roster["workers"][0]["personnel_number"] == "W00701" and roster["workers"][0]["pin_hash"] == PIN_HASH
        assert "individual_norm" not in roster["workers"][0]

        _history(hub.store, "W00701", [(134, 86, 70)] * 10)
        proposal = httpx.post(hub.url + "/api/v1/workers/W00701/norms", headers=auth(MEDIC)).json()
        httpx.post(f"{hub.url}/api/v1/workers/W00701/norms/{proposal['id']}/approve", headers=auth(MEDIC))
        wait_until(lambda: rosters(first)[-1]["version"] == "plant-1.2", timeout=30, message="the new roster")
        norm = rosters(first)[-1]["workers"][0]["individual_norm"]
        assert norm["systolic_mmhg"] == 134 and norm["n_readings"] == 10
        assert norm["approved_by"] == "Петрова А. В., фельдшер" and norm["approved_on"] == date.today().isoformat()

        # a kiosk the hub hears of later gets the current roster too
        second = Commands()
        kiosk2 = KioskAgent(kiosk_config(tmp_path, broker, kiosk="kiosk-02"))
        kiosk2.uplink.on_command = second
        kiosk2.start()
        wait_until(lambda: rosters(second), timeout=40, message="the roster at kiosk-02")
        assert rosters(second)[-1]["version"] == "plant-1.2"
    finally:
        kiosk1.stop()
        if kiosk2 is not None:
            kiosk2.stop()
        hub.stop()
