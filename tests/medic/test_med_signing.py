"""Decisions signed per medic: an Ed25519 key unlocked by the medic's PIN (hub.medic_signing).

Enrolment, wrong PINs counted and locking the key, signatures verified when decisions are listed
(a forged signature shows as invalid), old signatures still valid after a key is replaced, and
the signed decision reaching the kiosk over a real mosquitto with a signature that verifies.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from hub import medic_signing
from hub.api import create_app
from hub.config import HubConfig
from hub.service import HubService
from hub.store import Store
from tests.foundation.helpers import hub_config, wait_until
from tests.medic.medic_helpers import (
    MEDIC,
    MEDIC2,
    OHS,
    alcohol_confirmed,
    api_section,
    auth,
    put_exams,
    severe_bp,
    store_config,
)
from tests.medic.test_med_delivery import Commands, start_kiosk, stored_exam

PIN = "246810"


@pytest.fixture
def tablet(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        yield client, store
    store.close()


def decide(client, event_id, token=MEDIC, **extra):
    return client.post(f"/api/v1/medic/exams/{event_id}/decision", headers=auth(token),
                       json={"decision": "not_admitted", "reason": "давление 184/112", **extra})


def test_enrolment_and_pins(tablet):
    client, store = tablet
    assert client.get("/api/v1/medic/signing-key", headers=auth(MEDIC)).json() == {"medic": "Петрова А. В., фельдшер",
                                                                                   "enrolled": False}
    short = client.post("/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": "123"})
    assert short.status_code == 422 and "6 digits" in short.json()["detail"]["message"]
    assert client.post("/api/v1/medic/signing-key", headers=auth(OHS), json={"pin": PIN}).status_code == 403
    enrolled = client.post("/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": PIN})
    assert enrolled.status_code == 201 and enrolled.json()["algorithm"] == "Ed25519"
    assert client.post("/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": "135791"}).status_code == 409
    stored = store.query("SELECT * FROM medic_keys")[0]
    assert PIN.encode() not in bytes(stored["encrypted_key"]) and len(bytes(stored["encrypted_key"])) == 32 + 16
    assert not any(PIN in str(row) for row in store.query("SELECT * FROM audit_log")), "a PIN is never logged"

    [first, second] = put_exams(store, [severe_bp("W00101"), severe_bp("W00102")])
    assert decide(client, first).status_code == 422, "an enrolled medic's decision needs the PIN"
    wrong = decide(client, first, pin="000000")
    assert wrong.status_code == 403 and wrong.json()["detail"]["attempts_left"] == 4
    signed = decide(client, first, pin=PIN)
    assert signed.status_code == 201, signed.text
    signature = signed.json()["signature"]
    assert signature["status"] == "valid" and signature["signer"] == "Петрова А. В., фельдшер"

    # the second medic has no key yet: decisions stay unsigned (require_signature = false by default)
    unsigned = decide(client, second, token=MEDIC2)
    assert unsigned.status_code == 201 and unsigned.json()["signature"] == {"status": "unsigned"}
    listed = client.get("/api/v1/medic/decisions", headers=auth(MEDIC)).json()["items"]
    assert [d["signature"]["status"] for d in listed] == ["valid", "unsigned"]

    # a forged signature (written straight into the database) does not verify
    with store.lock:
        store.conn.execute("UPDATE medic_signatures SET signature = ?",
                           (base64.b64encode(b"\x01" * 64).decode(),))
    listed = client.get("/api/v1/medic/decisions", headers=auth(MEDIC)).json()["items"]
    assert listed[0]["signature"]["status"] == "invalid"


def test_wrong_pins_lock_the_key_and_replacing_it_keeps_old_signatures_valid(tablet):
    client, store = tablet
    client.post("/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": PIN})
    [first, second, third] = put_exams(store, [severe_bp("W00101"), severe_bp("W00102"), severe_bp("W00103")])
    assert decide(client, first, pin=PIN).status_code == 201
    for left in (4, 3, 2, 1):
        assert decide(client, second, pin="999999").json()["detail"]["attempts_left"] == left
    locked = decide(client, second, pin="999999")
    assert locked.status_code == 403 and locked.json()["detail"]["attempts_left"] == 0
    assert decide(client, second, pin=PIN).status_code == 423, "a locked key stays locked, even for the right PIN"
    with store.lock:  # the lockout has run out
        store.conn.execute("UPDATE medic_keys SET locked_until = '2000-01-01T00:00:00+00:00'")
    assert decide(client, second, pin=PIN).status_code == 201

    replaced = client.post("/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": "135791", "old_pin": PIN})
    assert replaced.status_code == 201
    assert decide(client, third, pin=PIN).status_code == 403, "the old PIN opens nothing any more"
    assert decide(client, third, pin="135791").status_code == 201
    listed = client.get("/api/v1/medic/decisions", headers=auth(MEDIC)).json()["items"]
    assert [d["signature"]["status"] for d in listed] == ["valid"] * 3
    assert len({d["signature"]["key_id"] for d in listed}) == 2


def test_signature_required_refuses_a_medic_without_a_key(tmp_path):
    config = HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db")}, "api": api_section(),
                                       "medic_signing": {"require_signature": True}})
    store = Store(config.storage.path)
    with TestClient(create_app(config, store)) as client:
        [event_id] = put_exams(store, [severe_bp()])
        refused = decide(client, event_id)
        assert refused.status_code == 409 and "enrol" in refused.json()["detail"]["message"]
    store.close()


def test_the_kiosk_receives_the_signed_decision(tmp_path, broker):
    hub = HubService(hub_config(tmp_path, broker, **api_section())).start(connect_timeout=10)
    commands = Commands()
    agent = start_kiosk(tmp_path, broker, commands)
    try:
        event_id = stored_exam(hub, agent, alcohol_confirmed())
        key = httpx.post(hub.url + "/api/v1/medic/signing-key", headers=auth(MEDIC), json={"pin": PIN}).json()
        response = httpx.post(f"{hub.url}/api/v1/medic/exams/{event_id}/decision", headers=auth(MEDIC),
                              json={"decision": "not_admitted", "pin": PIN}, timeout=30)
        assert response.status_code == 201, response.text
        wait_until(lambda: response.json()["decision_id"] in commands.ids(), message="the decision at the kiosk")
        [command] = [c for c in commands.items if str(c.command_id) == response.json()["decision_id"]]
        signature = command.args["signature"]
        assert signature["key_id"] == key["key_id"]
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
        # the command carries every signed field: the kiosk (or an inspector) verifies it on its own
        public.verify(base64.b64decode(signature["signature"]), medic_signing.signed_payload(command.args))
    finally:
        agent.stop()
        hub.stop()
