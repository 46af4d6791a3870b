"""Property tests for the device decoders that tests/devices_ble/test_properties.py and
tests/devices_serial/test_serial_properties.py do not cover yet:

* BLE: Intermediate Cuff Pressure 0x2A36 round trip; every profile on near-valid PDUs
  (an encoder's output truncated, extended, with its flags or one byte changed); the
  SFLOAT/FLOAT/Date Time primitives at any offset; the plausibility check;
* ESC/POS: arbitrary bytes, and receipt -> decode round trip;
* Modbus: frames with any expectations, FC 01/02 bit replies, noise and smoke decoders
  under any register map (not only the default one);
* alcotester: what the decoder accepts is a canonical line; every message kind as a Reading;
* badge readers: every card display format, Mifare UIDs;
* the stream framers on arbitrary bytes in arbitrary chunks.

Each decoder may raise only its own error type (``DecodeError`` and subclasses; the
ESC/POS decoder has ``EscPosDecodeError``), with a message.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridges.ble import PROFILES
from firmware_bridges.ble.berrymed import BerryMedPacket
from firmware_bridges.ble.blood_pressure import (
    BloodPressureMeasurement,
    CuffPressure,
    decode_cuff_pressure,
    parse_cuff_pressure,
)
from firmware_bridges.ble.plausibility import check_plausible
from firmware_bridges.ble.plx import Continuous, SpotCheck
from firmware_bridges.ble.sfloat import (
    BleDecodeError,
    DateTime,
    Special,
    decode_date_time,
    decode_float,
    decode_sfloat,
)
from firmware_bridges.ble.thermometer import TemperatureMeasurement
from firmware_bridges.devices import ImplausibleReading, ModbusLink, RegisterSpec, SmokeConfig
from firmware_bridges.modbus import frames, noise, smoke
from firmware_bridges.readings import DecodeError, DeviceIdentity
from firmware_bridges.serial import alcotester as alc
from firmware_bridges.serial import badge, escpos, pms5003
from firmware_bridges.serial.framing import FixedFramer, FrameError, LineFramer

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MANY = settings(FUZZ, max_examples=300)


def only(error_type, call, *args, **kwargs):
    """Run a decoder; it returns, or raises ``error_type`` with a message (anything else fails)."""
    try:
        return call(*args, **kwargs)
    except error_type as error:
        assert str(error).strip(), f"{type(error).__name__} without a message"
        return None


# --------------------------------------------------------------------------- BLE

specials = st.sampled_from(list(Special))
sfloats = st.one_of(specials, st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-2045, 2045), st.integers(-8, 7)))
floats32 = st.one_of(
    specials, st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-8_388_605, 8_388_605), st.integers(-128, 127))
)
datetimes = st.builds(DateTime, st.integers(0, 0xFFFF), *[st.integers(0, 255)] * 5)
u8, u16, u24 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFF)


def same(a, b) -> bool:
    if isinstance(a, Special) or isinstance(b, Special):
        return a is b
    return a == b


@FUZZ
@given(sfloats, st.booleans())
def test_cuff_pressure_round_trip(pressure, kpa):
    raw = CuffPressure(pressure, kpa).encode()
    cuff, _ = parse_cuff_pressure(raw)
    assert same(cuff.pressure, pressure) and cuff.kpa == kpa
    reading = decode_cuff_pressure(raw)
    assert reading.values() == {}, "a progress notification carries no measured value"
    assert reading.device_values["cuff_pressure_mmhg"] == cuff.mmhg()
    assert (cuff.mmhg() is None) == isinstance(pressure, Special)


#: (profile, device kind, encoded valid PDU)
valid_pdus = st.one_of(
    st.builds(lambda m: ("ble-temperature", "thermometer", m.encode()),
              st.builds(TemperatureMeasurement, floats32, st.booleans(), st.none() | datetimes, st.none() | u8)),
    st.builds(lambda m: ("ble-blood-pressure", "bp_cuff", m.encode()),
              st.builds(BloodPressureMeasurement, sfloats, sfloats, sfloats, st.booleans(), st.none() | datetimes,
                        st.none() | sfloats, st.none() | u8, st.none() | u16)),
    st.builds(lambda m: ("ble-cuff-pressure", "bp_cuff", m.encode()), st.builds(CuffPressure, sfloats, st.booleans())),
    st.builds(lambda m: ("ble-plx-spot", "oximeter", m.encode()),
              st.builds(SpotCheck, sfloats, sfloats, st.none() | datetimes, st.none() | u16, st.none() | u24,
                        st.none() | sfloats, st.booleans())),
    st.builds(lambda m: ("ble-plx-continuous", "oximeter", m.encode()),
              st.builds(Continuous, sfloats, sfloats, st.none() | st.tuples(sfloats, sfloats),
                        st.none() | st.tuples(sfloats, sfloats), st.none() | u16, st.none() | u24, st.none() | sfloats)),
    st.builds(lambda p: ("berrymed", "oximeter", p.encode()),
              st.builds(BerryMedPacket, st.integers(0, 15), st.booleans(), st.booleans(), st.booleans(),
                        st.integers(0, 127), st.integers(0, 15), st.booleans(), st.booleans(), st.integers(0, 255),
                        st.integers(0, 127))),
)


@st.composite
def near_valid_pdus(draw):
    profile, kind, raw = draw(valid_pdus)
    how = draw(st.sampled_from(["as is", "truncate", "extend", "flags", "byte"]))
    if how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "extend":
        raw = raw + draw(st.binary(min_size=1, max_size=12))
    elif how == "flags":
        raw = bytes([draw(u8)]) + raw[1:]
    elif how == "byte":
        i = draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([draw(u8)]) + raw[i + 1:]
    return profile, kind, raw


@MANY
@given(near_valid_pdus())
def test_ble_profiles_on_near_valid_pdus(case):
    profile, kind, raw = case
    reading = only(BleDecodeError, PROFILES[profile], raw)
    if reading is not None:
        assert reading.raw_hex == raw.hex()
        only(ImplausibleReading, check_plausible, reading, kind)


@FUZZ
@given(st.binary(max_size=12), st.integers(0, 14))
def test_ble_primitives_at_any_offset(data, offset):
    for decode in (decode_sfloat, decode_float, decode_date_time):
        only(BleDecodeError, decode, data, offset)


@FUZZ
@given(datetimes)
def test_date_time_round_trip_and_never_raises(value):
    assert decode_date_time(value.encode()) == value
    problem = value.problem()
    converted = value.to_datetime()
    assert (converted is None) == (problem is not None)
    assert len(value.iso()) >= 19


# --------------------------------------------------------------------------- ESC/POS


@MANY
@given(st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"\x1b", b"\x1d", b"V", b"@", b"t", b"E", b"!", b"d", b"\n", b"A", b"B", b"\x11", b"\x42",
                              b"\x03", b"\xa0"]), max_size=40).map(b"".join),
))
def test_escpos_decode_raises_only_its_error(data):
    only(escpos.EscPosDecodeError, escpos.decode, data)


cp866_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@FUZZ
@given(cp866_text, st.lists(cp866_text, max_size=5), st.none() | cp866_text, st.sampled_from(sorted(escpos.CODEPAGE_ENCODINGS)),
       st.booleans())
def test_escpos_receipt_round_trip(title, lines, emphasis, codepage, cut):
    encoding = escpos.CODEPAGE_ENCODINGS[codepage]
    printed = escpos.decode(escpos.receipt(title, lines, emphasis, codepage=codepage, encoding=encoding, cut=cut))

    def shown(text: str) -> str:
        return escpos.encode_text(text, encoding).decode(encoding, errors="replace")

    expected = [title] + ([emphasis] if emphasis else []) + lines
    flat = [part for text in expected for part in shown(text).split("\n")]
    assert printed["lines"] == flat
    assert printed["cuts"] == int(cut) and printed["codepages"] == [codepage]


# --------------------------------------------------------------------------- Modbus

crc_frames = st.binary(min_size=1, max_size=40).map(lambda pdu: frames.with_crc(pdu))


@MANY
@given(st.one_of(st.binary(max_size=300), crc_frames), st.none() | st.integers(0, 255), st.none() | st.integers(0, 255))
def test_modbus_frames_with_any_expectation(data, unit, function):
    only(DecodeError, frames.decode_response, data, unit, function)


@FUZZ
@given(st.integers(0, 247), st.sampled_from([1, 2]), st.lists(st.booleans(), min_size=1, max_size=64))
def test_modbus_bit_reply_round_trip(unit, function, bits):
    packed = bytes(sum(bit << i for i, bit in enumerate(bits[k:k + 8])) for k in range(0, len(bits), 8))
    back = frames.decode_response(frames.ReadResponse(unit, function, packed).encode(), unit, function)
    assert back.bits(len(bits)) == bits


register_specs = st.builds(
    RegisterSpec,
    function=st.sampled_from([1, 2, 3, 4]),
    address=st.integers(0, 12),
    datatype=st.sampled_from(["uint16", "int16", "bool"]),
    scale=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6) | st.floats(),
    alarm_when=st.sampled_from([0, 1]),
)
register_replies = st.builds(
    lambda unit, fc, regs: frames.ReadResponse(unit, fc, struct.pack(f">{len(regs)}H", *regs)).encode(),
    st.integers(0, 247), st.sampled_from([3, 4]), st.lists(st.integers(0, 0xFFFF), max_size=16),
)
any_reply = st.one_of(register_replies, crc_frames, st.binary(max_size=40))


@MANY
@given(any_reply, register_specs, st.sampled_from(["A", "C", "Z"]))
def test_noise_under_any_register_spec(frame, spec, weighting):
    reading = only(DecodeError, noise.decode_response_frame, frame, spec, weighting)
    if reading is not None and weighting != "A":
        assert reading.noise_dba is None and "noise_dba" in reading.invalid


@FUZZ
@given(st.integers(0, 0xFFFF))
def test_noise_int16_sign(raw):
    reading = noise.registers_to_reading(raw, RegisterSpec(datatype="int16", scale=1.0))
    assert reading.noise_dba == (raw - 0x10000 if raw >= 0x8000 else raw)


smoke_maps = st.builds(
    lambda o, a, f: SmokeConfig(identity=DeviceIdentity(kind="smoke", model="fuzz"), link=ModbusLink(port="-"),
                                obscuration=o, alarm=a, fault=f),
    st.none() | register_specs, st.none() | register_specs, st.none() | register_specs,
)


@MANY
@given(any_reply, smoke_maps)
def test_smoke_under_any_register_map(frame, cfg):
    reading = only(DecodeError, smoke.decode_response_frame, frame, cfg)
    if reading is not None and reading.status.get("fault"):
        assert reading.status.get("alarm") is None, "a faulted detector's alarm state is unknown (fail closed)"
        assert reading.smoke_obscuration_pct_ft is None


def test_found_smoke_register_map_with_nothing_mapped():
    """Found by test_smoke_under_any_register_map: a map with obscuration, alarm and fault all
    unset made ``decode_response_frame`` raise ValueError ("min() arg is an empty sequence")."""
    cfg = SmokeConfig(identity=DeviceIdentity(kind="smoke", model="fuzz"), link=ModbusLink(port="-"),
                      obscuration=None, alarm=None, fault=None)
    with pytest.raises(DecodeError, match="maps no register"):
        smoke.decode_response_frame(bytes.fromhex("01030200017984"), cfg)


# --------------------------------------------------------------------------- alcotester

_ident = st.from_regex(r"[A-Za-z0-9_\-]{1,12}", fullmatch=True)
_dec = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 99999), st.integers(0, 3))
alc_messages = st.one_of(
    st.builds(alc.AlReq, st.integers(0, 99999), st.just("TEST"), _ident),
    st.builds(alc.AlReq, st.integers(0, 99999), st.sampled_from(["STAT", "ABORT"]), st.none()),
    st.builds(alc.AlAck, st.integers(0, 99999), st.just(True), st.none()),
    st.builds(alc.AlAck, st.integers(0, 99999), st.just(False), st.sampled_from(sorted(alc.ERROR_CODES))),
    st.builds(alc.AlEvt, st.integers(0, 99999), _ident, st.sampled_from(["BLOW", "ANALYZING"]), st.none()),
    st.builds(alc.AlEvt, st.integers(0, 99999), _ident, st.just("BLOW_PROGRESS"), st.integers(0, 100)),
    st.builds(lambda s, t, c, v, d: alc.AlErr(s, t, c, alc.ERROR_CODES[c], v, d), st.integers(0, 99999), _ident,
              st.sampled_from(sorted(alc.ERROR_CODES)), _dec, _dec),
    st.builds(lambda s, t, b: alc.AlRes(s, t, datetime(2025, 3, 14, tzinfo=timezone.utc), b, Decimal("1.20"),
                                        Decimal("2.5"), Decimal("34.1"), "SN1", "2026-01-31"),
              st.integers(0, 99999), _ident, _dec),
)
CANONICAL_LINE = re.compile(rb"\$[\x20-\x7e]*\*[0-9A-Fa-f]{2}[\r\n]*")
_HH_ALPHABET = "0123456789ABCDEFabcdef +-_x\t"


@MANY
@given(alc_messages, st.sampled_from(["\n", "\r", "\x00", "\t"]), st.data())
def test_alcotester_accepts_only_canonical_lines(msg, odd, data):
    """A line the decoder accepts is ``$`` + printable body + ``*`` + exactly two hex digits."""
    body = msg.encode()[1:].split(b"*")[0]
    at = data.draw(st.integers(0, len(body)))
    variants = [body, body[:at] + odd.encode() + body[at:]]
    for variant in variants:
        c = alc.checksum(variant)
        for hh in {f"{c:02X}", f"{c:02x}", f" {c:X}", f"+{c:X}", f"{c:X} ", f"{c:X}\t", f"0x{c:X}"[-2:]}:
            line = b"$" + variant + b"*" + hh.encode() + b"\r\n"
            if only(DecodeError, alc.decode_message, line) is not None:
                assert CANONICAL_LINE.fullmatch(line), f"accepted a non-canonical line {line!r}"


@FUZZ
@given(alc_messages, st.sampled_from([2000, 2100]))
def test_alcotester_every_message_kind_as_a_reading(msg, ratio):
    reading = alc.decode_reading(msg.encode(), ratio=ratio)
    assert reading.status["seq"] == msg.seq
    if isinstance(msg, alc.AlRes):
        assert reading.status["bac_permille"] == float(alc.permille(msg.brac_mg_l, ratio))
        assert reading.status["blood_breath_ratio"] == f"{ratio}:1"
    elif isinstance(msg, alc.AlErr):
        assert reading.brac_mg_l is None and reading.invalid["brac_mg_l"].startswith(msg.code)
    else:
        assert reading.values() == {}


@pytest.mark.parametrize("line", [
    pytest.param(b"$ALREQ,10,ABORT*+0\r\n", id="sign-before-one-digit-checksum"),
    pytest.param(b"$ALREQ,10,ABORT* 0\r\n", id="space-before-one-digit-checksum"),
    pytest.param(b"$ALREQ,10,ABORT*0 \r\n", id="space-after-one-digit-checksum"),
    pytest.param(b"$ALREQ,10,ABORT*0\t\r\n", id="tab-after-one-digit-checksum"),
    pytest.param(b"$ALACK,1,ERR,E01\n*52\r\n", id="line-feed-inside-the-body"),
    pytest.param(b"$ALREQ,1,TEST,abc\n*2A\r\n", id="line-feed-ends-the-last-field"),
])
def test_found_alcotester_non_canonical_lines_are_refused(line):
    """Found by test_alcotester_accepts_only_canonical_lines: ``int(hh, 16)`` took ' 0', '+0',
    '0 ', '0<TAB>' as a checksum, and the field regexes' ``$`` let a LF end a field (seq, code, subject)."""
    with pytest.raises(DecodeError):
        alc.decode_message(line)


# --------------------------------------------------------------------------- badge readers


@FUZZ
@given(st.integers(0, 255), st.integers(0, 0xFFFFFFFF), st.sampled_from(badge.CARD_FORMATS))
def test_rdm6300_every_card_format(version, card, card_format):
    reading = badge.decode_rdm6300(badge.encode_rdm6300(version, card), card_format)
    assert reading.card_id == badge.format_em(card, card_format)
    assert reading.device_values["card32"] == card and reading.status["format"] == card_format


@FUZZ
@given(st.sampled_from([4, 7]).flatmap(lambda n: st.binary(min_size=n, max_size=n)), st.sampled_from(["", ":", "-", " "]),
       st.booleans(), st.sampled_from(["", "\r\n", "\n", "  \r\n"]))
def test_badge_line_mifare_uid_round_trip(uid, separator, lower, ending):
    text = separator.join(f"{b:02x}" if lower else f"{b:02X}" for b in uid)
    reading = badge.decode_badge_line(text.encode() + ending.encode())
    assert reading.card_id == uid.hex().upper() and reading.device_values["uid_bytes"] == len(uid)


# --------------------------------------------------------------------------- framers


def chunked(data: bytes, sizes: list[int]):
    i = k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        yield data[i:i + n]
        i, k = i + n, k + 1


@MANY
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), min_size=1, max_size=6), st.integers(1, 300))
def test_line_framer_on_arbitrary_bytes(data, sizes, max_len):
    framer = LineFramer(max_len=max_len)
    for chunk in chunked(data, sizes):
        for item in framer.feed(chunk):
            if isinstance(item, bytes):
                assert 0 < len(item) <= max_len and b"\r" not in item and b"\n" not in item
            else:
                assert isinstance(item, FrameError)


@MANY
@given(st.binary(max_size=400), st.lists(st.integers(1, 64), min_size=1, max_size=6), st.booleans())
def test_fixed_framers_on_arbitrary_bytes(data, sizes, pms):
    framer = (FixedFramer(pms5003.SYNC, pms5003.FRAME_LEN, pms5003.frame_problem) if pms
              else FixedFramer(b"\x02", badge.RDM6300_LEN, badge.rdm6300_problem))
    decode = pms5003.decode_reading if pms else badge.decode_rdm6300
    for chunk in chunked(data, sizes):
        for item in framer.feed(chunk):
            if isinstance(item, bytes):
                decode(item)  # the framer hands on only frames its codec accepts
            else:
                assert isinstance(item, FrameError) and item.reason
