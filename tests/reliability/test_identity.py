"""Issue 10, defects 2 and 7: an ack covers only records stored under that exact identity;
conflicts are kept and flagged; the evidence chain settles gaps and flags altered replays."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.evidence import public_key_of
from edge_agent.journal import Journal
from firmware_bridges import evidence
from firmware_bridges.contract import Ack, make_envelope, parse_uplink_raw
from hub.db.exam_body import decode_body_text
from tests.foundation.helpers import exam_body
from tests.reliability.helpers import exam_wire, incoming, make_ingest


def test_a_restarted_sequence_under_a_new_incarnation_is_stored_not_acked_as_the_old(tmp_path):
    ingest = make_ingest(tmp_path)
    ingest.process(incoming([exam_wire(seq, incarnation="old") for seq in (1, 2, 3)]))
    # the SD card was re-imaged: a new journal, a new incarnation, sequence 1 again
    ingest.process(incoming([exam_wire(seq, incarnation="new") for seq in (1, 2)], first_mid=10))
    assert ingest.store.scalar("SELECT count(*) FROM exams") == 5
    assert ingest.store.scalar("SELECT count(*) FROM conflicts") == 0
    ack = ingest.client.acks()[-1]
    assert ack.incarnation == "new" and ack.through_seq == 2


def test_a_preclaimed_sequence_is_kept_as_a_conflict_and_never_acked_as_the_other_record(tmp_path):
    ingest = make_ingest(tmp_path)
    spoof = exam_wire(7, worker="W-SPOOF")
    ingest.process(incoming([spoof]))
    assert ingest.client.acks()[-1].covers(7), "the spoofer's own record is stored under seq 7"
    real_event = str(uuid.uuid4())
    ingest.process(incoming([exam_wire(7, event_id=real_event, worker="W00042")], first_mid=2))
    ack = ingest.client.acks()[-1]
    assert 7 in ack.contested and real_event in ack.contested[7]
    assert not ack.covers(7, str(uuid.uuid4())), "a third record under seq 7 is not covered by this ack"
    assert ack.covers(7, real_event), "the real record is kept (quarantined) under its own identity"
    row = ingest.store.query("SELECT code, event_id, length(payload) AS size FROM conflicts")[0]
    assert row["code"] == "sequence_conflict" and row["event_id"] == real_event and row["size"] > 500
    # after a restart the hub still knows the sequence is contested
    again = make_ingest(tmp_path, store=ingest.store)
    again.process(incoming([exam_wire(8)], first_mid=3))
    assert 7 in again.client.acks()[-1].contested and not again.client.acks()[-1].covers(7)


def test_the_kiosk_removes_only_published_records_whose_identity_the_ack_confirms(tmp_path):
    journal = Journal(tmp_path / "j.db")
    records = [journal.append("exam", {"n": i}) for i in range(3)]
    other = str(uuid.uuid4())
    ack = Ack(site="plant-1", kiosk="kiosk-01", incarnation=journal.incarnation, through_seq=3,
              contested={2: [other]}, ts="2026-12-01T00:00:00+00:00")
    published = {r.seq: r.event_id for r in records[:2]}  # record 3 was not sent on this connection
    assert journal.apply_ack(ack, published) == 1, "seq 1 only: 2 is held as another event, 3 was not sent"
    foreign = ack.model_copy(update={"incarnation": "someone-else", "contested": {}})
    assert journal.apply_ack(foreign, {r.seq: r.event_id for r in records}) == 0
    assert journal.outbox_depth() == 2


def test_replay_with_the_same_identity_and_other_content_is_flagged(tmp_path):
    ingest = make_ingest(tmp_path)
    event_id = str(uuid.uuid4())
    ingest.process(incoming([exam_wire(1, event_id=event_id, worker="W00001")]))
    # exam_body() stamps fresh times: the same identity now carries other content
    ingest.process(incoming([exam_wire(1, event_id=event_id, worker="W00001")], first_mid=2))
    assert ingest.store.scalar("SELECT code FROM conflicts WHERE seq = 1") == "replay_mismatch"
    assert ingest.counters["duplicates"] == 0
    topic, payload = exam_wire(2)
    ingest.process(incoming([(topic, payload), (topic, payload)], first_mid=3))
    duplicates = ingest.counters["duplicates"]
    assert duplicates == 1, "a byte-identical resend is a plain duplicate"
    altered = payload.replace(b'"outcome":"admitted"', b'"outcome":"admitted","note":"edited"')
    assert altered != payload
    ingest.process(incoming([(topic, altered)], first_mid=5))
    assert ingest.counters["duplicates"] == duplicates, "an altered replay is not a plain duplicate"
    assert ingest.store.scalar("SELECT code FROM conflicts WHERE seq = 2") == "replay_mismatch"
    assert ingest.store.scalar("SELECT count(*) FROM exams WHERE seq = 2") == 1
    assert "edited" not in decode_body_text(ingest.store.scalar("SELECT body_z FROM exams WHERE seq = 2"))


# ---------------------------------------------------------------- evidence chain (defect 7)


def _sealed(key, count):
    bodies, prev = [], evidence.GENESIS
    for index in range(1, count + 1):
        body = make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 1).body.model_dump(mode="json",
                                                                                          exclude={"chain"})
        body = evidence.seal(body, index, prev, key)
        bodies.append(body)
        prev = body["chain"]["hash"]
    return bodies


def _wire(body, seq):
    envelope = make_envelope("plant-1", "kiosk-01", "exam", body, seq, incarnation="inc-a")
    return parse_uplink_raw("ohs/v1/plant-1/kiosk-01/exam", envelope.to_json())[0]


def test_a_deleted_predecessor_becomes_a_flagged_gap_and_settles_if_it_comes(tmp_path):
    key = Ed25519PrivateKey.generate()
    ingest = make_ingest(tmp_path)
    store = ingest.store
    store.register_key("plant-1", "kiosk-01", public_key_of(key))
    bodies = _sealed(key, 4)
    store.commit_batch([(_wire(bodies[0], 1), "2026-12-01T00:00:00+00:00"),
                        (_wire(bodies[2], 3), "2026-12-01T00:00:00+00:00")], [])
    status = lambda seq: store.scalar("SELECT chain_status FROM exams WHERE seq = ?", [seq])  # noqa: E731
    assert status(3) == "pending_link"
    assert store.flag_chain_gaps("2026-11-30T00:00:00+00:00") == 0, "not yet past the wait"
    assert store.flag_chain_gaps("2026-12-01T01:00:00+00:00") == 1
    assert status(3) == "gap"
    store.commit_batch([(_wire(bodies[1], 2), "2026-12-01T02:00:00+00:00")], [])
    assert (status(2), status(3)) == ("ok", "ok"), "a late predecessor still settles the gap"


def test_the_exam_after_a_tampered_one_settles_as_broken(tmp_path):
    key = Ed25519PrivateKey.generate()
    ingest = make_ingest(tmp_path)
    store = ingest.store
    store.register_key("plant-1", "kiosk-01", public_key_of(key))
    bodies = _sealed(key, 3)
    tampered = {**bodies[1], "outcome": "admitted", "worker_id": "W99999"}
    store.commit_batch([(_wire(bodies[0], 1), "t"), (_wire(bodies[2], 3), "t")], [])
    store.commit_batch([(_wire(tampered, 2), "t")], [])
    status = lambda seq: store.scalar("SELECT chain_status FROM exams WHERE seq = ?", [seq])  # noqa: E731
    assert status(2) == "hash_mismatch"
    assert status(3) == "broken_link", "its successor no longer waits forever"


def test_an_admin_lists_reads_and_resolves_conflicts_and_others_may_not(tmp_path):
    from fastapi.testclient import TestClient

    from hub.api import create_app

    ingest = make_ingest(tmp_path)
    ingest.process(incoming([exam_wire(3, worker="W-SPOOF")]))
    ingest.process(incoming([exam_wire(3, worker="W00042")], first_mid=2))
    config = ingest.config.model_copy(update={"api": ingest.config.api.model_validate({"tokens": [
        {"token": "admin-token-0123456789", "role": "admin", "name": "Admin A"},
        {"token": "ohs-token-012345678901", "role": "ohs", "name": "OHS B"}]})})
    client = TestClient(create_app(config, ingest.store, ingest))
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    assert client.get("/api/v1/conflicts", headers={"Authorization": "Bearer ohs-token-012345678901"}).status_code == 403
    listed = client.get("/api/v1/conflicts", headers=admin).json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "sequence_conflict"
    one = client.get(f"/api/v1/conflicts/{listed['items'][0]['id']}", headers=admin).json()
    assert one["payload"]["body"]["worker_id"] == "W00042" and one["held"]["event_id"] != one["event_id"]
    done = client.post(f"/api/v1/conflicts/{one['id']}/resolve", headers=admin,
                       json={"resolution": "forged", "note": "W-SPOOF record came from a test client"})
    assert done.status_code == 200
    assert client.post(f"/api/v1/conflicts/{one['id']}/resolve", headers=admin,
                       json={"resolution": "forged", "note": "again"}).status_code == 409
    assert client.get("/api/v1/conflicts", headers=admin).json()["total"] == 0
    assert ingest.store.scalar("SELECT count(*) FROM audit_log WHERE action = 'resolve_conflict'") == 1


def test_an_ack_for_another_record_under_the_same_sequence_removes_nothing(tmp_path):
    """The residual race of range acks: the kiosk has published seq 7, the hub holds a spoofer's
    seq 7 and acks a batch; only the exact (seq, event id) the hub confirms may leave the outbox."""
    journal = Journal(tmp_path / "j.db")
    records = [journal.append("exam", {"n": i}) for i in range(7)]
    ingest = make_ingest(tmp_path)
    ingest.process(incoming([exam_wire(7, incarnation=journal.incarnation, worker="W-SPOOF")]))
    ack = ingest.client.acks()[-1]
    assert ack.covers(7), "the hub holds something at seq 7"
    published = {r.seq: r.event_id for r in records}
    assert journal.apply_ack(ack, published) == 0, "but not this kiosk's record"
    ingest.process(incoming([exam_wire(7, incarnation=journal.incarnation, event_id=records[6].event_id)],
                            first_mid=2))
    assert journal.apply_ack(ingest.client.acks()[-1], published) == 1, "its own record, kept as a conflict"
