"""The hub's orjson fast paths give exactly the json module's results (hub/wire_json.py, issue 11), and
signatures checked in the pool get exactly the statuses of the inline check (hub.evidence.SignaturePool)."""

from __future__ import annotations

import json
import math
import random
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridges import evidence
from firmware_bridges.contract import ContractError, ExamBody, load_json_object
from hub.evidence import SignaturePool, check_signatures, signature_job
from hub.wire_json import canonical_json, load_payload, sorted_compact
from tests.foundation.helpers import exam_body, wait_until


def stdlib_sorted(value, allow_nan=True) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=allow_nan).encode("utf-8")


def random_float(rng: random.Random) -> float:
    """Floats of every magnitude: random bit patterns, decimal-looking values, and the edges of json's
    notation change (1e-4, 1e16)."""
    choice = rng.randrange(4)
    if choice == 0:
        while True:
            value = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
            if math.isfinite(value):
                return value
    if choice == 1:
        return round(rng.uniform(-1e6, 1e6), rng.randrange(9))
    if choice == 2:
        return float(f"{10 ** rng.uniform(-7, 19):.{rng.randrange(1, 18)}g}") * rng.choice((1, -1))
    return rng.choice((1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 0.0, -0.0, 5e-324, 1.7976931348623157e308))


def test_sorted_compact_writes_the_json_modules_bytes():
    rng = random.Random(11)
    for _ in range(20_000):
        value = {"v": random_float(rng), "list": [random_float(rng), rng.randrange(-2**70, 2**70)],
                 "s": rng.choice(("é\u2028\x7f\x1f\"\\/", "3e5", "0.00001", "a:1e5", "\U0001F600")), "n": None, "b": True}
        assert sorted_compact(value) == stdlib_sorted(value)
        assert sorted_compact([value], allow_nan=False) == stdlib_sorted([value], allow_nan=False)


def test_canonical_json_equals_the_kiosks():
    body = ExamBody.model_validate(exam_body()).model_dump(mode="json")
    sealed = evidence.seal(body, 1, evidence.GENESIS, Ed25519PrivateKey.generate())
    sealed["extra"] = {"tiny": 1.5e-07, "huge": 1e22, "big_int": 2**80, "key\u00e9": [0.1, 36.6]}
    assert canonical_json(sealed) == evidence.canonical_json(sealed)


@pytest.mark.parametrize("payload", [
    b'{"a": 1, "b": [1.5, -0.0, 1E5, 0.00001, 2.5e-7], "c": "\\u00e9\\ud83d\\ude00", "a": 2}',
    b'{"big": 18446744073709551616, "neg": -9223372036854775809}',
    b'{"x": 123456789012345678901234567890.5}',
    b' {"ws": true}\n',
    b'{"many": [' + b",".join([b"[{}]"] * 100) + b"]}",  # many brackets, shallow: walked, accepted
    b'{"deep": ' + b"[" * 31 + b"]" * 31 + b"}",  # 32 levels: the limit
])
def test_load_payload_reads_what_the_contract_reads(payload):
    ours, theirs = load_payload(payload, 32), load_json_object(payload, 32)
    assert ours == theirs
    assert json.dumps(ours) == json.dumps(theirs)  # the same types (int stays int), the same order


@pytest.mark.parametrize("payload", [
    b"\xff\xfe{}", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e400}', b'{"a": "\\ud800"}', b"[1, 2]", b"{",
    b'{"deep": ' + b"[" * 40 + b"]" * 40 + b"}", b"[" * 2000 + b"]" * 2000, b"\xef\xbb\xbf{}", b'{"a": 1' + b"0" * 5000 + b"}",
])
def test_load_payload_refuses_as_the_contract_does(payload):
    with pytest.raises(ContractError) as theirs:
        load_json_object(payload, 32)
    with pytest.raises(ContractError) as ours:
        load_payload(payload, 32)
    assert (ours.value.code, ours.value.reason) == (theirs.value.code, theirs.value.reason)


def test_pool_verdicts_give_the_inline_statuses():
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    public = evidence.public_key_of(key)
    bodies, prev = [], evidence.GENESIS
    for index in range(1, 41):
        body = evidence.seal(ExamBody.model_validate(exam_body()).model_dump(mode="json"), index, prev, key)
        prev = body["chain"]["hash"]
        bodies.append(body)
    bodies[3]["chain"]["sig"] = evidence.seal(bodies[3], 4, bodies[2]["chain"]["hash"], other)["chain"]["sig"]
    bodies[7]["chain"]["sig"] = "not base64!"
    bodies[9]["chain"]["sig"] = 12345
    assert check_signatures([("AAAA", "c2ln", "00")]) == [None]  # a malformed key: left to check_seal
    pool = SignaturePool(min_exams=8, first_chunk=4, chunk=8)
    try:
        jobs = [job for body in bodies if (job := signature_job(public, body)) is not None]
        assert len(jobs) == 39  # the integer signature is never sent
        assert pool.submit(jobs) is None  # starting: checked inline meanwhile
        wait_until(lambda: pool._started.done(), timeout=60, message="the signature pool to start")
        assert pool._started.result() == [], "the pool's process runs"
        verdicts = pool.submit(jobs)
        assert verdicts is not None
        pooled = [evidence.check_seal(body, public, verify=verdicts.verify) for body in bodies]
        inline = [evidence.check_seal(body, public) for body in bodies]
        assert pooled == inline
        assert inline[3] == "bad_signature" and inline[7] == inline[9] == "malformed_seal"
        assert inline.count("ok") == 37
    finally:
        pool.close()


def test_the_ingest_stores_pool_checked_exams_with_the_statuses_of_inline_checks(tmp_path):
    """Two batches of 40 sealed exams through Ingest.process: the first checked inline (the pool starts), the
    second by the pool; a forged and a malformed signature in each get their statuses, their successors
    broken_link, everything else ok — as without the pool."""
    from firmware_bridges.contract import encode_envelope
    from tests.reliability.helpers import KIOSK, SITE, incoming, make_ingest

    key, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ingest = make_ingest(tmp_path)
    ingest.store.register_key(SITE, KIOSK, evidence.public_key_of(key))
    expected, prev, seq = {}, evidence.GENESIS, 0

    def batch() -> list:
        nonlocal prev, seq
        messages = []
        for n in range(40):
            seq += 1
            body = evidence.seal(ExamBody.model_validate(exam_body(f"W{seq:05d}")).model_dump(
                mode="json", exclude={"chain"}), seq, prev, key)
            prev = body["chain"]["hash"]
            status = "ok"
            if n == 5:
                body["chain"]["sig"] = evidence.seal(body, seq, body["chain"]["prev"], forger)["chain"]["sig"]
                status = "bad_signature"
            elif n == 9:
                body["chain"]["sig"] = "!!"
                status = "malformed_seal"
            elif n in (6, 10):
                status = "broken_link"
            event_id = f"00000000-0000-4000-8000-{seq:012d}"
            expected[event_id] = status
            messages.append((f"ohs/v1/{SITE}/{KIOSK}/exam", encode_envelope(
                SITE, KIOSK, "exam", seq, event_id, "2026-01-01T06:30:00+00:00", False,
                json.dumps(body, ensure_ascii=False, separators=(",", ":")), incarnation="inc-a")))
        return incoming(messages, first_mid=seq - 39)

    try:
        ingest.process(batch())
        assert ingest.signatures._started is not None, "a batch of 40 exams starts the pool"
        wait_until(lambda: ingest.signatures._started.done(), timeout=60, message="the signature pool to start")
        assert ingest.signatures._started.result() == [], "the pool's process runs"
        second = batch()
        assert ingest._check_signatures(ingest._parse(second)[0]) is not None, "the second batch goes to the pool"
        ingest.process(second)
        stored = dict(ingest.store.query_rows("SELECT event_id, chain_status FROM exams"))
        assert stored == expected
    finally:
        ingest.signatures.close()
        ingest.store.close()
