"""The per-kiosk Ed25519 hash chain: sealed at the kiosk, verified and linked at the hub."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.agent import KioskAgent
from edge_agent.evidence import load_or_create_key, public_key_of
from firmware_bridges import evidence
from firmware_bridges.contract import make_envelope, parse_uplink
from hub.config import KioskKey
from hub.service import HubService
from hub.store import Store
from tests.foundation.helpers import exam_body, hub_config, kiosk_config, wait_until

TOPIC = "ohs/v1/plant-1/kiosk-01/exam"


def sealed_chain(key, count, start_prev=evidence.GENESIS):
    bodies, prev = [], start_prev
    for index in range(1, count + 1):
        body = evidence.seal(make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 1).body.model_dump(
            mode="json", exclude={"chain"}), index, prev, key)
        bodies.append(body)
        prev = body["chain"]["hash"]
    return bodies


def wire(body, seq):
    """Through JSON, as the hub receives it."""
    envelope = make_envelope("plant-1", "kiosk-01", "exam", body, seq)
    return parse_uplink(TOPIC, envelope.to_json())


def test_seal_checks_and_tampering():
    key = Ed25519PrivateKey.generate()
    public = public_key_of(key)
    body = sealed_chain(key, 1)[0]
    assert evidence.check_seal(body, public) == "ok"
    assert evidence.check_seal({**body, "outcome": "not_admitted"}, public) == "hash_mismatch"
    assert evidence.check_seal(body, public_key_of(Ed25519PrivateKey.generate())) == "unknown_key"
    forged = {**body, "chain": {**body["chain"], "sig": body["chain"]["sig"][::-1]}}
    assert evidence.check_seal(forged, public) in ("bad_signature", "malformed_seal")
    assert evidence.check_seal({k: v for k, v in body.items() if k != "chain"}, public) == "unsigned"
    assert evidence.check_seal(body, None) == "unknown_key"


def test_key_file_is_created_once_and_private(tmp_path):
    path = tmp_path / "k" / "signing-key.pem"
    first = load_or_create_key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert public_key_of(load_or_create_key(path)) == public_key_of(first)


def test_hub_links_out_of_order_and_flags_breaks(tmp_path):
    key = Ed25519PrivateKey.generate()
    store = Store(tmp_path / "hub.db")
    store.register_key("plant-1", "kiosk-01", public_key_of(key))
    bodies = sealed_chain(key, 4)
    # 1, then 3 (before 2: backlog overtaken by live), then 2
    store.commit_batch([(wire(bodies[0], 1), "t"), (wire(bodies[2], 3), "t")], [])
    status = lambda seq: store.scalar("SELECT chain_status FROM exams WHERE seq = ?", [seq])  # noqa: E731
    assert (status(1), status(3)) == ("ok", "pending_link")
    store.commit_batch([(wire(bodies[1], 2), "t")], [])
    assert (status(2), status(3)) == ("ok", "ok")
    # a record whose prev does not match its stored predecessor
    other = sealed_chain(key, 5)
    store.commit_batch([(wire(other[3], 5), "t")], [])
    assert status(5) == "broken_link"
    # a second exam claiming an index already taken
    store.commit_batch([(wire(other[1], 6), "t")], [])
    assert status(6) == "fork"
    # tampered in transit: the hub recomputes the hash from what arrived
    tampered = dict(bodies[3])
    tampered["outcome"] = "admitted"
    tampered["worker_id"] = "W99999"
    store.commit_batch([(wire(tampered, 7), "t")], [])
    assert status(7) == "hash_mismatch"
    store.close()


def test_real_kiosk_chain_verifies_end_to_end(tmp_path, broker):
    kconfig = kiosk_config(tmp_path, broker)
    kconfig.identity.signing_key = tmp_path / "kiosk-01" / "key.pem"
    public = public_key_of(load_or_create_key(kconfig.identity.signing_key))
    config = hub_config(tmp_path, broker)
    config.kiosks = [KioskKey(site="plant-1", kiosk="kiosk-01", public_key=public)]
    hub = HubService(config).start(connect_timeout=10)
    kiosk = KioskAgent(kconfig).start()
    try:
        for i in range(5):
            kiosk.record("exam", exam_body(f"W{i:05d}", "admitted" if i % 2 else "not_admitted"))
        kiosk.record("telemetry", {"readings": [{"sensor_id": "n", "zone": "z", "ts": "2026-11-24T06:00:00Z",
                                                 "values": {"noise_dba": 81.5}}]})
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="all acked")
        rows = hub.store.query("SELECT seq, chain_status FROM exams ORDER BY seq")
        assert [r["chain_status"] for r in rows] == ["ok"] * 5
        chain = hub.store.query("SELECT idx FROM exam_chain ORDER BY idx")
        assert [r["idx"] for r in chain] == [1, 2, 3, 4, 5]
    finally:
        kiosk.stop()
        hub.stop()


def test_unregistered_kiosk_is_flagged_unless_trusted_on_first_use(tmp_path, broker):
    config = hub_config(tmp_path, broker)
    hub = HubService(config).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    try:
        kiosk.record("exam", exam_body())
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="acked")
        assert hub.store.scalar("SELECT chain_status FROM exams") == "unknown_key"
    finally:
        kiosk.stop()
        hub.stop()
    config.evidence.trust_on_first_use = True
    config.storage.path = tmp_path / "hub2.db"
    hub = HubService(config).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker, kiosk="kiosk-02")).start()
    try:
        wait_until(lambda: hub.store.scalar("SELECT count(*) FROM kiosk_keys WHERE kiosk = 'kiosk-02'") == 1,
                   message="key announced")
        kiosk.record("exam", exam_body())
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, message="acked")
        assert hub.store.scalar("SELECT chain_status FROM exams WHERE kiosk = 'kiosk-02'") == "ok"
    finally:
        kiosk.stop()
        hub.stop()
