"""Hypothesis properties: every codec round-trips what an encoder produces, and arbitrary
bytes never raise anything but DecodeError (issue 4, "Done when")."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges import profiles
from firmware_bridges.modbus import frames, noise, smoke
from firmware_bridges.readings import DecodeError
from firmware_bridges.serial import alcotester as alc
from firmware_bridges.serial import badge, pms5003
from firmware_bridges.serial.framing import FixedFramer, FrameError, LineFramer

FAST = settings(max_examples=150, deadline=None)

ident = st.from_regex(r"[A-Za-z0-9_\-]{1,32}", fullmatch=True)
seq = st.integers(0, 99999)
dec = lambda places, hi: st.integers(0, hi).map(lambda n: Decimal(n).scaleb(-places))  # noqa: E731
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0, tzinfo=timezone.utc)
)
dates = st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()).map(lambda d: d.isoformat())

messages = st.one_of(
    st.builds(alc.AlReq, seq, st.sampled_from(["TEST"]), st.from_regex(r"[A-Za-z0-9_:\-]{1,40}", fullmatch=True)),
    st.builds(alc.AlReq, seq, st.sampled_from(["STAT", "ABORT"]), st.none()),
    st.builds(lambda s, t: alc.AlReq(s, "TIME", alc.fmt_utc(t)), seq, times),
    st.builds(alc.AlAck, seq, st.just(True), st.none()),
    st.builds(alc.AlAck, seq, st.just(False), st.sampled_from(sorted(alc.ERROR_CODES))),
    st.builds(alc.AlEvt, seq, ident, st.sampled_from(["BLOW", "ANALYZING"]), st.none()),
    st.builds(alc.AlEvt, seq, ident, st.just("WARMUP"), st.integers(0, 600)),
    st.builds(alc.AlEvt, seq, ident, st.just("BLOW_PROGRESS"), st.integers(0, 100)),
    st.builds(alc.AlRes, seq, ident, times, dec(3, 5000), dec(2, 999), dec(1, 999), dec(1, 450), ident, dates),
    st.builds(lambda s, t, c: alc.AlErr(s, t, c, alc.ERROR_CODES[c]), seq, ident, st.sampled_from(sorted(alc.ERROR_CODES))),
    st.builds(lambda s, t, c, v, d: alc.AlErr(s, t, c, alc.ERROR_CODES[c], v, d), seq, ident,
              st.sampled_from(sorted(alc.ERROR_CODES)), dec(2, 999), dec(1, 999)),
)


@FAST
@given(messages)
def test_alcotester_round_trip(msg):
    line = msg.encode()
    assert alc.decode_message(line) == msg
    if isinstance(msg, alc.AlRes):
        r = alc.decode_reading(line)
        assert Decimal(str(r.brac_mg_l)) == msg.brac_mg_l and r.status["test_id"] == msg.test_id


pms_frames = st.builds(
    pms5003.PmsFrame,
    *[st.integers(0, 0xFFFF)] * 6,
    counts=st.tuples(*[st.integers(0, 0xFFFF)] * 6),
    reserved=st.integers(0, 0xFFFF),
)


@FAST
@given(pms_frames)
def test_pms5003_round_trip(f):
    raw = f.encode()
    assert len(raw) == 32 and pms5003.decode_frame(raw) == f
    r = pms5003.decode_reading(raw)
    assert (r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) == (f.pm1_0_atm, f.pm2_5_atm, f.pm10_atm)


@FAST
@given(st.integers(0, 255), st.integers(0, 0xFFFFFFFF))
def test_rdm6300_round_trip(version, card):
    r = badge.decode_rdm6300(badge.encode_rdm6300(version, card))
    assert r.device_values["card32"] == card and r.device_values["version"] == version
    assert int(r.card_id) == card


@FAST
@given(st.integers(0, 0xFFFFFFFF))
def test_badge_line_round_trip(card):
    assert badge.decode_badge_line(badge.encode_badge_line(f"{card:010d}")).card_id == f"{card:010d}"


@FAST
@given(st.integers(0, 247), st.sampled_from([3, 4]), st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_modbus_register_response_round_trip(unit, fc, regs):
    import struct

    resp = frames.ReadResponse(unit, fc, struct.pack(f">{len(regs)}H", *regs))
    back = frames.decode_response(resp.encode())
    assert back == resp and back.registers() == regs
    r = noise.decode_response_frame(resp.encode())
    assert r.device_values["raw"] == regs[0] and r.noise_dba == round(regs[0] * 0.1, 3)


@FAST
@given(st.integers(0, 247), st.integers(1, 4), st.integers(1, 11))
def test_modbus_exception_round_trip(unit, fc, code):
    e = frames.ExceptionResponse(unit, fc, code)
    assert frames.decode_response(e.encode()) == e


@FAST
@given(st.integers(0, 3000), st.booleans(), st.booleans())
def test_smoke_round_trip(level, alarm, fault):
    import struct

    payload = struct.pack(">3H", level, int(alarm), int(fault))
    r = smoke.decode_response_frame(frames.ReadResponse(1, 3, payload).encode())
    if fault:
        assert r.smoke_obscuration_pct_ft is None and r.status["alarm"] is None
    else:
        assert r.smoke_obscuration_pct_ft == round(level * 0.01, 4) and r.status["alarm"] is alarm


LOCAL_PROFILES = ["alcotester", "pms5003", "rdm6300", "badge-line", "modbus-noise", "modbus-smoke"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(LOCAL_PROFILES), st.binary(max_size=300))
def test_arbitrary_bytes_only_decode_error(profile, data):
    decoder = profiles.get(profile)
    try:
        decoder(data)
    except DecodeError:
        pass


# Structured junk is more likely to reach deep branches than uniform bytes.
near_alc = st.builds(
    lambda body, fix: alc.frame(body).rstrip() if fix else ("$" + body + "*00").encode(),
    st.text(alphabet="ALREQACKSVTRRMGLE0123456789,.-:TZ_", max_size=90),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(near_alc)
def test_alcotester_near_valid_lines_only_decode_error(line):
    try:
        alc.decode_reading(line)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5), st.binary(min_size=3, max_size=3).map(lambda b: frames.with_crc(b"\x01" + b)))
def test_modbus_valid_crc_junk_only_decode_error(prefix, frame):
    for data in (frame, prefix + frame):
        for dec in (noise.decode_response_frame, smoke.decode_response_frame):
            try:
                dec(data)
            except DecodeError:
                pass


@FAST
@given(st.lists(pms_frames, min_size=1, max_size=5), st.lists(st.binary(max_size=40), min_size=5, max_size=5),
       st.integers(1, 40))
def test_pms_framer_resyncs_after_garbage(fs, junk, chunk):
    framer = FixedFramer(pms5003.SYNC, pms5003.FRAME_LEN, pms5003.frame_problem)
    stream = b"".join(j.replace(b"BM", b"") + f.encode() for j, f in zip(junk, fs, strict=False))  # more junk pieces than frames
    out = []
    for i in range(0, len(stream), chunk):
        out += [x for x in framer.feed(stream[i : i + chunk]) if not isinstance(x, FrameError)]
    # every frame is recovered (garbage may add a spurious valid-looking frame only by a
    # 1/65536 checksum accident, so compare the tail)
    assert [pms5003.decode_frame(x) for x in out][-len(fs):] == fs


@FAST
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 0xFFFFFFFF)), min_size=1, max_size=5),
       st.lists(st.binary(max_size=20), min_size=5, max_size=5), st.integers(1, 20))
def test_rdm6300_framer_resyncs(cards, junk, chunk):
    framer = FixedFramer(b"\x02", 14, badge.rdm6300_problem)
    stream = b"".join(j.replace(b"\x02", b"") + badge.encode_rdm6300(v, c) for j, (v, c) in zip(junk, cards, strict=False))
    got = []
    for i in range(0, len(stream), chunk):
        got += [badge.decode_rdm6300(x).device_values["card32"] for x in framer.feed(stream[i : i + chunk]) if isinstance(x, bytes)]
    assert got == [c for _, c in cards]


@FAST
@given(st.lists(messages, min_size=1, max_size=6), st.binary(max_size=600), st.integers(1, 50))
def test_line_framer_bounded_and_recovers(msgs, junk, chunk):
    framer = LineFramer(max_len=256)
    stream = junk.replace(b"\n", b"").replace(b"\r", b"") + b"\n" + b"".join(m.encode() for m in msgs)
    got = []
    for i in range(0, len(stream), chunk):
        for item in framer.feed(stream[i : i + chunk]):
            if isinstance(item, bytes):
                assert len(item) <= 256
                try:
                    got.append(alc.decode_message(item))
                except DecodeError:
                    pass
    assert got[-len(msgs):] == msgs
