"""Coverage-guided fuzzing (atheris / libFuzzer) of the hub's ingest path and of the device decoders.

Targets (``--target``):

* ``ingest`` (default): an input is ``topic NUL payload`` (no NUL: the whole input is the payload
  of ``ohs/v1/plant-1/kiosk-01/exam``). The topic and payload go through ``parse_uplink_raw``;
  a refusal must be a ContractError with a reason (it is then dead-lettered), and an accepted
  envelope must have arrived on its own topic, re-serialise to itself, and be stored by
  ``Store.commit_batch`` on a throwaway SQLite file (a fresh one every 5,000 inputs, so the
  file stays small) — redeliveries and sequence conflicts happen along the way.
* ``decoders``: the first byte selects a decoder (every BLE, serial and Modbus decode profile,
  the framers, ESC/POS, smoke/noise under other register maps), the rest is its input. A
  decoder may raise only its own error type.

The fuzzer is seeded with a generated corpus (valid envelopes of every kind, or one valid
frame per decoder) and a dictionary of JSON tokens. Anything else a target raises is a crash:
it is recorded (first inputs of each distinct crash kept under ``--crashes``) and fuzzing goes
on, so one run reports every kind of crash it met.

Run::

    .venv/bin/python bench/fuzz_ingest.py                          # 200,000 inputs, ingest
    .venv/bin/python bench/fuzz_ingest.py -runs=2000 -seed=1
    .venv/bin/python bench/fuzz_ingest.py --target decoders -max_total_time=120

Arguments starting with a single ``-`` are libFuzzer flags (``-runs=N``, ``-seed=N``,
``-max_total_time=S``, ``-max_len=N``, ...). At the end one JSON line is printed::

    {"target": "ingest", "inputs": 200000, "crashes": 0, "crash_kinds": 0, "coverage": 1834, ...}

``inputs`` is libFuzzer's count of executed inputs, ``coverage`` the ``cov:`` figure atheris
reports (edges covered in the instrumented modules), ``features`` its ``ft:``. Exit status 0:
no crash; 1: crashes (listed in ``crash_list``); 2: the fuzzer itself failed.

atheris ships manylinux wheels for CPython 3.11 on x86-64 (``pip install atheris``; it is in
the ``dev`` extra there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = 200_000
DEFAULT_TOPIC = "ohs/v1/plant-1/kiosk-01/exam"
KEEP_PER_KIND = 5  # crashing inputs kept per distinct crash
STORE_EVERY = 5_000  # a fresh throwaway store after this many inputs


# =========================================================================== seeds


def _exam_body(i: int, outcome: str = "admitted") -> dict:
    fired = [] if outcome == "admitted" else [{"rule": "alcohol.positive", "source": "КоАП 12.8", "value": 0.21}]
    return {
        "exam_id": f"exam-{i}",
        "worker_id": f"W{i:05d}",
        "exam_type": "pre_shift",
        "started_at": "2025-03-14T05:57:12+03:00",
        "finished_at": "2025-03-14T05:58:12+03:00",
        "answers": {"slept_enough": True, "feels_unwell": False, "note": "ok"},
        "measurements": [
            {"field": "systolic_mmhg", "value": 128, "taken_at": "2025-03-14T05:57:30+03:00", "device_model": "cuff"},
            {"field": "pulse_bpm", "value": 72.5, "taken_at": "2025-03-14T05:57:30+03:00", "attempt": 2,
             "status": {"irregular_pulse": False}},
            {"field": "brac_mg_l", "value": None, "invalid_reason": "E01 INSUFFICIENT_VOLUME",
             "taken_at": "2025-03-14T05:57:50+03:00"},
        ],
        "outcome": outcome,
        "fired": fired,
        "rule_set_version": "rules-1",
        "decided_by": "kiosk",
    }


def ingest_seeds() -> list[bytes]:
    """Valid envelopes of every kind (and a sealed exam), as ``topic NUL payload``."""
    from datetime import datetime, timezone

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from firmware_bridges import evidence
    from firmware_bridges.contract import Envelope, make_envelope

    def env(kiosk, kind, body, seq, n, **kw):
        extra = {"incarnation": "j-1"} if "incarnation" in Envelope.model_fields and n % 2 else {}
        e = make_envelope("plant-1", kiosk, kind, body, seq, event_id=f"00000000-0000-4000-8000-{n:012d}",
                          ts=datetime(2025, 3, 14, 2, 58, 12 + n, tzinfo=timezone.utc), **kw, **extra)
        return f"ohs/v1/plant-1/{kiosk}/{kind}".encode() + b"\x00" + e.to_json()

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    seeds = [
        env("kiosk-01", "exam", _exam_body(1), 1, 1),
        env("kiosk-01", "exam", _exam_body(2, "not_admitted"), 2, 2, historical=True),
        env("kiosk-02", "exam", evidence.seal(_exam_body(3, "needs_medic"), 1, evidence.GENESIS, key), 1, 3),
        env("kiosk-01", "telemetry", {"readings": [
            {"sensor_id": "pms-1", "zone": "shop-2", "ts": "2025-03-14T05:58:12Z",
             "values": {"pm2_5_ugm3": 12.0, "pm10_ugm3": None}, "invalid": {"pm10_ugm3": "sensor fault"}},
            {"sensor_id": "noise-1", "zone": "shop-2", "ts": "2025-03-14T05:58:13Z", "values": {"noise_dba": 81.5}},
        ]}, 3, 4),
        env("kiosk-01", "event", {"type": "smoke_alarm", "severity": "alarm", "zone": "shop-2", "device": "smoke-1",
                                  "message_ru": "Дым", "message_en": "Smoke",
                                  "details": {"obscuration": 4.2, "raw": [1, 0], "ok": None}}, 4, 5),
        env("kiosk-01", "status", {"state": "online", "versions": {"agent": "0.1.0"}, "outbox_depth": 3,
                                   "last_seq": 4, "clock_offset_s": -0.25,
                                   "devices": {"alcotester": {"state": "ok", "errors": 0}},
                                   "public_key": evidence.public_key_of(key)}, None, 6),
    ]
    # the same records on a foreign topic and without a topic (payload only)
    seeds.append(b"ohs/v1/plant-1/kiosk-09/exam\x00" + seeds[0].split(b"\x00", 1)[1])
    seeds.append(seeds[3].split(b"\x00", 1)[1])
    return seeds


#: libFuzzer dictionary: JSON and contract tokens the mutator may insert.
INGEST_DICTIONARY = [
    '"schema"', '"site"', '"kiosk"', '"seq"', '"event_id"', '"ts"', '"historical"', '"kind"', '"body"',
    '"incarnation"', '"exam"', '"telemetry"', '"event"', '"status"', '"ack"', '"details"', '"chain"', '"index"',
    '"readings"', '"values"', '"measurements"', '"value"', '"fired"', '"outcome"', '"not_admitted"',
    "NaN", "Infinity", "-Infinity", "1e999", "-0", "null", "true", "false", "[]", "{}", "[[[[[[[[", "]]]]]]]]",
    '{"a":{"a":{"a":', "}}}", '"\\ud800"', '"\\udfff"', '"\\u0000"', "\\u", "\\\\", "99999999999999999999",
    "9223372036854775807", "9223372036854775808", "ohs/v1/", "/exam", "\\x00", "+00:00", "T00:00:00Z",
]


#: Raw JSON text the structure-aware mutator puts in place of a value (a hostile kiosk's repertoire).
JSON_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "-0", "0", "1", "-1", "1.5", "1e-400", "null", "true", "false",
    "[]", "{}", '""', '"x"', '"\\ud800"', '"\\udfff"', '"a\\u0000b"', '"\\u2028"', "9" * 4400, "-" + "1" * 4301,
    str(2**63 - 1), str(2**63), str(2**64), str(-(2**63) - 1), '"exam"', '"status"', '"event"', '"telemetry"',
    '["exam"]', '{"kind":"exam"}', "[" * 40 + "]" * 40, '{"a":' * 40 + "0" + "}" * 40, "[" * 3000 + "]" * 3000,
    '"2025-03-14T05:58:12+00:00"', '"2025-03-14T05:58:12"', '"9999-12-31T23:59:59-23:59"', '"0001-01-01T00:00:00+23:59"',
    '"00000000-0000-4000-8000-000000000001"', '"not-a-uuid"', '"plant-1"', '"kiosk-01"', '"Kiosk 01"',
    '{"index":9223372036854775807,"prev":"' + "0" * 64 + '","hash":"' + "0" * 64 + '","sig":"x"}',
]
_SENTINEL = "\u0000mutate\u0000"


def _nodes(tree, path=()):
    """Every (parent path, key) in a JSON tree."""
    if isinstance(tree, dict):
        for key, child in tree.items():
            yield path, key
            yield from _nodes(child, path + (key,))
    elif isinstance(tree, list):
        for index, child in enumerate(tree):
            yield path, index
            yield from _nodes(child, path + (index,))


def mutate_envelope(data: bytes, max_size: int, seed: int, byte_mutate) -> bytes:
    """libFuzzer custom mutator for the ingest target: usually a JSON-aware change (a value
    replaced by a hostile token or another subtree, a key removed or added, the topic bent),
    otherwise libFuzzer's own byte-level mutation."""
    import random

    rnd = random.Random(seed)
    head, sep, payload = data.partition(b"\x00")
    if not sep:
        head, payload = DEFAULT_TOPIC.encode(), data
    if rnd.random() < 0.25:
        return byte_mutate(data, max_size)
    if rnd.random() < 0.1:  # bend the topic
        parts = head.split(b"/")
        choice = rnd.randrange(4)
        if choice == 0 and len(parts) == 5:
            parts[4] = rnd.choice([b"exam", b"telemetry", b"event", b"status", b"ack", b"cmd", b"exam\n", b"EXAM"])
        elif choice == 1 and len(parts) == 5:
            parts[3] = rnd.choice([b"kiosk-01", b"kiosk-02", b"", b"k\x00", b"kiosk-01\n"])
        elif choice == 2:
            parts.append(rnd.choice([b"", b"x", b"\n"]))
        else:
            return byte_mutate(data, max_size)
        return (b"/".join(parts) + b"\x00" + payload)[:max_size]
    try:
        tree = json.loads(payload)
    except Exception:  # noqa: BLE001 — not JSON (any more): mutate bytes
        return byte_mutate(data, max_size)
    places = list(_nodes(tree))
    if not places:
        return byte_mutate(data, max_size)
    path, key = rnd.choice(places)
    parent = tree
    for step in path:
        parent = parent[step]
    op = rnd.randrange(10)
    if op == 0:
        del parent[key]
    elif op == 1 and isinstance(parent, dict):
        parent[rnd.choice(["zz", "schema", "seq", "kind", "body", "chain", "details", "incarnation", "value", "\ud800"])] = \
            _SENTINEL
    elif op == 2:  # another subtree of the same message here (crossover within the message)
        other_path, other_key = rnd.choice(places)
        other = tree
        for step in other_path:
            other = other[step]
        parent[key] = json.loads(json.dumps(other[other_key]))
    else:
        parent[key] = _SENTINEL
    text = json.dumps(tree, ensure_ascii=False, separators=(",", ":"))
    token = rnd.choice(JSON_TOKENS) if rnd.random() < 0.85 else json.dumps(rnd.choice(
        [rnd.randrange(-(2**70), 2**70), rnd.random() * 10 ** rnd.randrange(-30, 300),
         "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(rnd.randrange(0, 8)))]))
    text = text.replace(json.dumps(_SENTINEL), token, 1)
    return (head + b"\x00" + text.encode("utf-8", "surrogatepass"))[:max_size]


def decoder_seeds() -> list[bytes]:
    """One or more valid inputs for every decoder, prefixed with its selector byte."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from firmware_bridges.ble.berrymed import BerryMedPacket
    from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement, CuffPressure
    from firmware_bridges.ble.plx import Continuous, SpotCheck
    from firmware_bridges.ble.sfloat import DateTime, Special
    from firmware_bridges.ble.thermometer import TemperatureMeasurement
    from firmware_bridges.modbus import frames
    from firmware_bridges.serial import alcotester as alc
    from firmware_bridges.serial import badge, escpos, pms5003

    ts = DateTime(2025, 3, 14, 5, 58, 12)
    alc_lines = [alc.AlRes(12, "T-1", datetime(2025, 3, 14, 5, 58, 12, tzinfo=timezone.utc), Decimal("0.000"),
                           Decimal("1.20"), Decimal("2.5"), Decimal("34.1"), "SN1", "2026-01-31").encode(),
                 alc.AlErr(3, "T-1", "E01", "INSUFFICIENT_VOLUME").encode(), alc.AlAck(4).encode(),
                 alc.AlEvt(5, "T-1", "BLOW_PROGRESS", 40).encode(), alc.AlReq(6, "TEST", "W00001").encode()]
    regs = frames.ReadResponse(1, 3, bytes.fromhex("02180000 0000")).encode()
    pms = pms5003.PmsFrame(1, 2, 3, 4, 5, 6, counts=(7, 8, 9, 10, 11, 12)).encode()
    rdm = badge.encode_rdm6300(0x13, 0x005D1DA5)
    inputs: dict[str, list[bytes]] = {
        "ble-temperature": [TemperatureMeasurement(Decimal("36.6"), False, ts, 2).encode(),
                            TemperatureMeasurement(Decimal("98.6"), True).encode()],
        "ble-blood-pressure": [BloodPressureMeasurement(Decimal(128), Decimal(82), Decimal(97), False, ts,
                                                        Decimal(72), 1, 0x0004).encode(),
                               BloodPressureMeasurement(Decimal("17.1"), Decimal("10.9"), Special.NAN, True).encode()],
        "ble-cuff-pressure": [CuffPressure(Decimal(150)).encode()],
        "ble-plx-spot": [SpotCheck(Decimal(97), Decimal(64), ts, 0x0080, 0x000010, Decimal("2.5")).encode()],
        "ble-plx-continuous": [Continuous(Decimal(98), Decimal(70), (Decimal(98), Decimal(71)), None, 0x2000,
                                          None, Decimal("1.2")).encode()],
        "berrymed": [BerryMedPacket(5, True, False, True, 50, 7, False, False, 72, 98).encode()],
        "alcotester": alc_lines,
        "pms5003": [pms],
        "rdm6300": [rdm],
        "badge-line": [b"0006102437\r\n", b"04:A2:2B:1A\r\n", b"04A22B1A2C5D80\n"],
        "modbus-noise": [regs],
        "modbus-smoke": [frames.ReadResponse(1, 3, bytes.fromhex("002a00000000")).encode(),
                         frames.ExceptionResponse(1, 3, 2).encode()],
        "modbus-frame": [regs, frames.ReadResponse(1, 1, b"\x05").encode()],
        "smoke-map": [bytes([0x21, 0x12, 0x03]) + frames.ReadResponse(1, 3, bytes(8)).encode()],
        "noise-int16-c": [frames.ReadResponse(1, 4, bytes.fromhex("ff38")).encode()],
        "escpos": [escpos.receipt("ДОПУЩЕН", ["Иванов И.И.", "05:58"], "ДОПУЩЕН")],
        "line-framer": [b"junk\r\n" + b"".join(alc_lines)],
        "pms-framer": [b"\x00BM" + pms + pms[:10]],
        "rdm-framer": [b"\x02\x02" + rdm + rdm],
        "berrymed-framer": [bytes.fromhex("00 95 32 07 48 62 ff 95 32 07 48 62")],
    }
    names = [name for name, _, _ in decoders()]
    return [bytes([names.index(name)]) + data for name, items in inputs.items() for data in items]


# =========================================================================== targets (worker side)


def decoders():
    """(name, call, allowed exception types) per selector byte value (modulo their count)."""
    from firmware_bridges import profiles
    from firmware_bridges.ble.berrymed import BerryMedFramer
    from firmware_bridges.ble.plausibility import check_plausible
    from firmware_bridges.devices import ImplausibleReading, ModbusLink, RegisterSpec, SmokeConfig
    from firmware_bridges.modbus import frames, noise, smoke
    from firmware_bridges.readings import DecodeError, DeviceIdentity
    from firmware_bridges.serial import alcotester as alc
    from firmware_bridges.serial import badge, escpos, pms5003
    from firmware_bridges.serial.framing import FixedFramer, LineFramer

    kinds = {"ble-temperature": "thermometer", "ble-blood-pressure": "bp_cuff", "ble-cuff-pressure": "bp_cuff",
             "ble-plx-spot": "oximeter", "ble-plx-continuous": "oximeter", "berrymed": "oximeter"}

    def profile(name):
        decode = profiles.get(name)

        def call(data: bytes) -> None:
            reading = decode(data)
            if name in kinds:
                try:
                    check_plausible(reading, kinds[name])
                except ImplausibleReading:
                    pass
            if name == "alcotester":  # what the decoder accepts is a canonical line
                if not re.fullmatch(rb"\$[\x20-\x7e]*\*[0-9A-Fa-f]{2}[\r\n]*", data):
                    raise AssertionError(f"alcotester accepted a non-canonical line {data!r}")
        return call

    def smoke_map(data: bytes) -> None:
        """Three bytes describe the map (per value: 0 = unset, else address and datatype), then a frame."""
        head, frame = data[:3], data[3:]
        specs = []
        for b in head.ljust(3, b"\x00"):
            specs.append(None if b == 0 else RegisterSpec(address=b & 0x0F, datatype=("uint16", "int16", "bool")[(b >> 4) % 3],
                                                          alarm_when=(b >> 6) & 1, scale=0.01))
        cfg = SmokeConfig(identity=DeviceIdentity(kind="smoke", model="fuzz"), link=ModbusLink(port="-"),
                          obscuration=specs[0], alarm=specs[1], fault=specs[2])
        smoke.decode_response_frame(frame, cfg)

    def line_framer(data: bytes) -> None:
        framer = LineFramer(max_len=96)
        for i in range(0, len(data), 7):
            for item in framer.feed(data[i:i + 7]):
                if isinstance(item, bytes):
                    if len(item) > 96 or b"\n" in item or b"\r" in item:
                        raise AssertionError(f"line framer returned {item!r}")
                    try:
                        alc.decode_message(item)
                    except DecodeError:
                        pass

    def fixed_framer(sync, length, validate, decode):
        def call(data: bytes) -> None:
            framer = FixedFramer(sync, length, validate)
            for i in range(0, len(data), 5):
                for item in framer.feed(data[i:i + 5]):
                    if isinstance(item, bytes):
                        decode(item)  # must not raise: the framer hands on valid frames only
        return call

    def berrymed_framer(data: bytes) -> None:
        framer = BerryMedFramer()
        for i in range(0, len(data), 3):
            framer.feed(data[i:i + 3])

    table = [(name, profile(name), (DecodeError,)) for name in sorted(profiles.descriptions())]
    table += [
        ("modbus-frame", lambda d: frames.decode_response(d, d[0] if d and d[0] & 1 else None), (DecodeError,)),
        ("smoke-map", smoke_map, (DecodeError,)),
        ("noise-int16-c", lambda d: noise.decode_response_frame(d, RegisterSpec(datatype="int16", scale=0.1), "C"),
         (DecodeError,)),
        ("escpos", escpos.decode, (escpos.EscPosDecodeError,)),
        ("line-framer", line_framer, ()),
        ("pms-framer", fixed_framer(pms5003.SYNC, pms5003.FRAME_LEN, pms5003.frame_problem, pms5003.decode_reading), ()),
        ("rdm-framer", fixed_framer(b"\x02", badge.RDM6300_LEN, badge.rdm6300_problem, badge.decode_rdm6300), ()),
        ("berrymed-framer", berrymed_framer, ()),
    ]
    return table


class Recorder:
    """Counts inputs and crashes; keeps the first inputs of each distinct crash."""

    def __init__(self, crash_dir: Path, stats_path: Path) -> None:
        self.crash_dir = crash_dir
        self.stats_path = stats_path
        self.executed = 0
        self.crashes = 0
        self.kinds: dict[str, dict] = {}
        crash_dir.mkdir(parents=True, exist_ok=True)

    def crash(self, data: bytes, error: BaseException, where: str) -> None:
        self.crashes += 1
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename
                and not f.filename.endswith("fuzz_ingest.py")]
        last = (ours or frames)[-1] if frames else None
        site = f"{os.path.relpath(last.filename, ROOT)}:{last.lineno}" if last else "?"
        signature = f"{where}: {type(error).__name__} at {site}"
        kind = self.kinds.setdefault(signature, {"signature": signature, "count": 0, "message": str(error)[:300],
                                                 "inputs": []})
        kind["count"] += 1
        name = f"input-{hashlib.sha1(data).hexdigest()[:16]}"
        if len(kind["inputs"]) < KEEP_PER_KIND and not any(i["file"].endswith(name) for i in kind["inputs"]):
            (self.crash_dir / name).write_bytes(data)
            kind["inputs"].append({"file": str(self.crash_dir / name), "input": repr(data[:400]),
                                   "size": len(data)})
        if self.crashes <= 1000 or self.crashes % 100 == 0:
            self.save()

    def save(self) -> None:
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"executed": self.executed, "crashes": self.crashes,
                                   "kinds": list(self.kinds.values())}, ensure_ascii=False))
        os.replace(tmp, self.stats_path)


def worker(args: argparse.Namespace, libfuzzer_args: list[str]) -> None:
    import atheris

    recorder = Recorder(Path(args.crashes), Path(args.stats))
    runs = next((int(a.split("=", 1)[1]) for a in libfuzzer_args if a.startswith("-runs=")), 0)
    with atheris.instrument_imports(include=["firmware_bridges", "hub"]):
        if args.target == "ingest":
            from firmware_bridges.contract import ContractError, parse_uplink_raw
            from hub.store import Store, utc_now
        else:
            table = decoders()

    if args.target == "ingest":
        state = {"store": None, "dir": None, "since": 0}

        def fresh_store():
            if state["store"] is not None:
                state["store"].close()
                shutil.rmtree(state["dir"], ignore_errors=True)
            state["dir"] = tempfile.mkdtemp(prefix="store-", dir=args.scratch)  # removed by the driver at the end
            state["store"] = Store(Path(state["dir"]) / "hub.db", synchronous="OFF", trust_on_first_use=True)
            state["since"] = 0

        fresh_store()

        def one_input(data: bytes) -> None:
            recorder.executed += 1
            state["since"] += 1
            if state["since"] > STORE_EVERY:
                fresh_store()
            try:
                ingest_one(data)
            finally:
                if recorder.executed % 1000 == 0 or recorder.executed == runs:
                    recorder.save()

        def ingest_one(data: bytes) -> None:
            head, sep, payload = data.partition(b"\x00")
            topic_name = head.decode("utf-8", "replace") if sep else DEFAULT_TOPIC  # paho hands topics as str
            if not sep:
                payload = data
            stage = "parse"
            try:
                try:
                    envelope, raw_body = parse_uplink_raw(topic_name, payload)
                except ContractError as error:
                    if not (isinstance(error.reason, str) and error.reason.strip()):
                        raise AssertionError("ContractError without a reason") from None
                    code = getattr(error, "code", None)
                    stage = "dead-letter"
                    state["store"].commit_batch([], [(topic_name, payload, error.reason)
                                                     + ((code,) if code is not None else ())])
                    return
                stage = "accepted"  # checks of what was accepted; a failure is recorded, then it is stored anyway
                try:
                    expected = f"ohs/v1/{envelope.site}/{envelope.kiosk}/{envelope.kind}"
                    if topic_name != expected:
                        raise AssertionError(f"accepted on topic {topic_name!r}, not its own {expected!r}")
                    again, _ = parse_uplink_raw(topic_name, envelope.to_json())
                    if again != envelope:
                        raise AssertionError("the accepted envelope does not re-serialise to itself")
                except Exception as error:  # noqa: BLE001
                    recorder.crash(data, error, stage)
                stage = "store"
                state["store"].commit_batch([(envelope, utc_now(), raw_body)], [])
            except Exception as error:  # noqa: BLE001 — every other exception is a finding
                recorder.crash(data, error, stage)
    else:
        def one_input(data: bytes) -> None:
            recorder.executed += 1
            if not data:
                return
            name, call, allowed = table[data[0] % len(table)]
            try:
                call(data[1:])
            except allowed as error:
                if not str(error).strip():
                    recorder.crash(data, AssertionError(f"{type(error).__name__} without a message"), name)
            except Exception as error:  # noqa: BLE001
                recorder.crash(data, error, name)
            if recorder.executed % 1000 == 0 or recorder.executed == runs:
                recorder.save()

    recorder.save()
    if args.target == "ingest":
        atheris.Setup([sys.argv[0], *libfuzzer_args], one_input,
                      custom_mutator=lambda data, max_size, seed: mutate_envelope(data, max_size, seed, atheris.Mutate))
    else:
        atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


# =========================================================================== driver (parent side)

_STATUS = re.compile(r"^#(\d+)\s+\w+\s+(?:cov: (\d+) ft: (\d+) )?corp: (\d+)/")
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second")


def summarise(log_text: str) -> dict:
    """libFuzzer's own figures from its log: inputs executed, coverage (cov), features (ft)."""
    out: dict = {"inputs": None, "coverage": None, "features": None, "corpus": None}
    for line in log_text.splitlines():
        match = _STATUS.match(line)
        if match:
            out["inputs"] = int(match.group(1))
            if match.group(2):
                out["coverage"], out["features"] = int(match.group(2)), int(match.group(3))
            out["corpus"] = int(match.group(4))
        match = _DONE.match(line)
        if match:
            out["inputs"] = int(match.group(1))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    libfuzzer_args = [a for a in argv if a.startswith("-") and not a.startswith("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Single-dash arguments (-runs=N, -seed=N, ...) go to libFuzzer.")
    parser.add_argument("--target", choices=["ingest", "decoders"], default="ingest")
    parser.add_argument("--corpus", help="corpus directory (default: a temporary one, seeded)")
    parser.add_argument("--crashes", help="where crashing inputs are kept (default: artifacts/fuzz/<target>)")
    parser.add_argument("--log", help="libFuzzer's log (default: beside the crashes)")
    parser.add_argument("--timeout", type=float, default=None, help="wall-clock limit in seconds for the whole run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("corpus_dirs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args([a for a in argv if a not in libfuzzer_args])

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.worker:
        worker(args, libfuzzer_args + args.corpus_dirs)
        return 0  # not reached: libFuzzer exits the process

    if not any(a.startswith("-runs=") for a in libfuzzer_args):
        libfuzzer_args.append(f"-runs={DEFAULT_RUNS}")
    if not any(a.startswith("-max_len=") for a in libfuzzer_args):
        libfuzzer_args.append("-max_len=16384")
    if not any(a.startswith("-timeout=") for a in libfuzzer_args):
        libfuzzer_args.append("-timeout=30")  # one input running longer is reported as a hang
    crash_dir = Path(args.crashes or ROOT / "artifacts" / "fuzz" / args.target)
    crash_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(args.log or crash_dir / "libfuzzer.log")
    stats_path = crash_dir / "stats.json"
    stats_path.unlink(missing_ok=True)
    before = set(os.listdir(crash_dir))
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{args.target}-") as scratch:
        corpus = Path(args.corpus) if args.corpus else Path(scratch) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        seeds = ingest_seeds() if args.target == "ingest" else decoder_seeds()
        for seed in seeds:
            (corpus / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
        if args.target == "ingest":
            dictionary = Path(scratch) / "json.dict"
            dictionary.write_text("".join(f"{json.dumps(token)}\n" for token in INGEST_DICTIONARY))
            libfuzzer_args.append(f"-dict={dictionary}")
        libfuzzer_args += [f"-artifact_prefix={crash_dir}/", "-print_final_stats=1"]
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", f"--target={args.target}",
                   f"--crashes={crash_dir}", f"--stats={stats_path}", f"--scratch={scratch}", *libfuzzer_args,
                   str(corpus)]
        started = time.monotonic()
        with open(log_path, "w") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            try:
                returncode = child.wait(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                child.terminate()
                try:
                    returncode = child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    returncode = child.wait()
        seconds = round(time.monotonic() - started, 1)
        log_text = log_path.read_text(errors="replace")
        figures = summarise(log_text)
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {"executed": 0, "crashes": 0, "kinds": []}
        libfuzzer_crash = sorted(name for name in set(os.listdir(crash_dir)) - before
                                 if name.startswith(("crash-", "oom-", "timeout-", "leak-")))
        crashes = stats["crashes"] + len(libfuzzer_crash)
        result = {
            "target": args.target,
            "inputs": max(figures["inputs"] or 0, stats["executed"]),
            "crashes": crashes,
            "crash_kinds": len(stats["kinds"]) + (1 if libfuzzer_crash else 0),
            "coverage": figures["coverage"],
            "features": figures["features"],
            "corpus": figures["corpus"],
            "seeds": len(seeds),
            "seconds": seconds,
            "libfuzzer_exit": returncode,
            "log": str(log_path),
            "crash_list": stats["kinds"] + ([{"signature": "libFuzzer artifact (uncaught, hang or OOM)",
                                              "files": libfuzzer_crash}] if libfuzzer_crash else []),
        }
    print(json.dumps(result, ensure_ascii=False))
    if crashes:
        return 1
    return 0 if returncode == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
