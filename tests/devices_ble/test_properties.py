"""Property tests (hypothesis): what a simulator encodes decodes back to itself; arbitrary
bytes raise nothing but the bridge's own typed decode error."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridges.ble import PROFILES
from firmware_bridges.ble.berrymed import BerryMedFramer, BerryMedPacket, parse_packet
from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement, parse_blood_pressure
from firmware_bridges.ble.plx import Continuous, SpotCheck, parse_continuous, parse_spot_check
from firmware_bridges.ble.sfloat import (
    BleDecodeError,
    DateTime,
    Special,
    decode_float,
    decode_sfloat,
    encode_float,
    encode_sfloat,
)
from firmware_bridges.ble.thermometer import TemperatureMeasurement, parse_temperature_measurement

specials = st.sampled_from(list(Special))
sfloats = st.one_of(
    specials,
    st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-2045, 2045), st.integers(-8, 7)),
)
floats32 = st.one_of(
    specials,
    st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-8_388_605, 8_388_605), st.integers(-128, 127)),
)
datetimes = st.builds(
    DateTime, st.integers(0, 9999), st.integers(0, 12), st.integers(0, 31), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)
)
u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u24 = st.integers(0, 0xFFFFFF)


def same(a, b) -> bool:
    """Equal including the decimal exponent (precision), specials by identity."""
    if isinstance(a, Special) or isinstance(b, Special):
        return a is b
    if isinstance(a, Decimal):
        return a == b and a.as_tuple().exponent == b.as_tuple().exponent or (a == 0 == b)
    return a == b


@given(sfloats)
def test_sfloat_roundtrip(v):
    assert same(decode_sfloat(encode_sfloat(v)), v)


@given(floats32)
def test_float_roundtrip(v):
    assert same(decode_float(encode_float(v)), v)


@given(st.builds(TemperatureMeasurement, floats32, st.booleans(), st.none() | datetimes, st.none() | u8))
def test_temperature_roundtrip(m):
    back = parse_temperature_measurement(m.encode())
    assert same(back.temperature, m.temperature)
    assert (back.fahrenheit, back.timestamp, back.temperature_type) == (m.fahrenheit, m.timestamp, m.temperature_type)
    PROFILES["ble-temperature"](m.encode())  # and it becomes a Reading without error


@given(
    st.builds(
        BloodPressureMeasurement, sfloats, sfloats, sfloats, st.booleans(), st.none() | datetimes,
        st.none() | sfloats, st.none() | u8, st.none() | u16,
    )
)
def test_blood_pressure_roundtrip(m):
    back = parse_blood_pressure(m.encode())
    for f in ("systolic", "diastolic", "mean_arterial", "pulse_rate"):
        assert same(getattr(back, f), getattr(m, f))
    assert (back.kpa, back.timestamp, back.user_id, back.status) == (m.kpa, m.timestamp, m.user_id, m.status)
    r = PROFILES["ble-blood-pressure"](m.encode())
    for field, v in (("systolic_mmhg", m.systolic), ("diastolic_mmhg", m.diastolic)):
        assert (getattr(r, field) is None) == isinstance(v, Special)  # specials never become numbers


@given(st.builds(SpotCheck, sfloats, sfloats, st.none() | datetimes, st.none() | u16, st.none() | u24, st.none() | sfloats, st.booleans()))
def test_spot_roundtrip(m):
    back = parse_spot_check(m.encode())
    assert same(back.spo2, m.spo2) and same(back.pulse_rate, m.pulse_rate)
    assert (back.timestamp, back.measurement_status, back.device_status, back.clock_not_set) == (
        m.timestamp, m.measurement_status, m.device_status, m.clock_not_set,
    )
    assert (back.pulse_amplitude_index is None) == (m.pulse_amplitude_index is None)


pairs = st.none() | st.tuples(sfloats, sfloats)


@given(st.builds(Continuous, sfloats, sfloats, pairs, pairs, st.none() | u16, st.none() | u24, st.none() | sfloats))
def test_continuous_roundtrip(m):
    back = parse_continuous(m.encode())
    assert same(back.spo2, m.spo2) and same(back.pulse_rate, m.pulse_rate)
    assert (back.fast is None, back.slow is None) == (m.fast is None, m.slow is None)
    assert (back.measurement_status, back.device_status) == (m.measurement_status, m.device_status)


packets = st.builds(
    BerryMedPacket, st.integers(0, 15), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 127),
    st.integers(0, 15), st.booleans(), st.booleans(), st.integers(0, 255), st.integers(0, 127),
)


@given(packets)
def test_berrymed_roundtrip(p):
    assert parse_packet(p.encode()) == p


@given(st.lists(packets, min_size=1, max_size=8), st.lists(st.integers(1, 7), min_size=1, max_size=8))
def test_berrymed_framer_any_split(ps, cuts):
    stream = b"".join(p.encode() for p in ps)
    fr = BerryMedFramer()
    got, i, k = [], 0, 0
    while i < len(stream):
        n = cuts[k % len(cuts)]
        got += [p for p, _ in fr.feed(stream[i : i + n])]
        i, k = i + n, k + 1
    assert got == ps and fr.discarded == 0


@settings(max_examples=400)
@given(st.sampled_from(sorted(PROFILES)), st.binary(max_size=40))
def test_arbitrary_bytes_only_typed_errors(profile, data):
    try:
        PROFILES[profile](data)
    except BleDecodeError as exc:
        assert str(exc)


@given(st.binary(max_size=200))
def test_framer_never_raises(data):
    BerryMedFramer().feed(data)
