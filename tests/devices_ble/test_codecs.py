"""Byte-level vectors from devices.md §1.1–§1.5 and §2, verbatim, plus rejection cases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from firmware_bridges.ble import PROFILES
from firmware_bridges.ble.berrymed import BerryMedFramer, parse_packet
from firmware_bridges.ble.blood_pressure import parse_blood_pressure
from firmware_bridges.ble.plx import parse_continuous, parse_spot_check
from firmware_bridges.ble.sfloat import (
    BleDecodeError,
    DateTime,
    Special,
    float_from_raw,
    float_to_raw,
    sfloat_from_raw,
    sfloat_to_raw,
)
from firmware_bridges.readings import DecodeError


def h(s: str) -> bytes:
    return bytes.fromhex(s)


# devices.md §1.1 special values table
@pytest.mark.parametrize(
    "sraw,fraw,special",
    [
        (0x07FF, 0x007FFFFF, Special.NAN),
        (0x0800, 0x00800000, Special.NRES),
        (0x07FE, 0x007FFFFE, Special.POSITIVE_INFINITY),
        (0x0802, 0x00800002, Special.NEGATIVE_INFINITY),
        (0x0801, 0x00800001, Special.RESERVED),
    ],
)
def test_special_values(sraw, fraw, special):
    assert sfloat_from_raw(sraw) is special
    assert float_from_raw(fraw) is special
    assert sfloat_to_raw(special) == sraw and float_to_raw(special) == fraw


@pytest.mark.parametrize("on_air,raw", [("FF 07", 0x07FF), ("00 08", 0x0800), ("FE 07", 0x07FE), ("02 08", 0x0802), ("01 08", 0x0801)])
def test_special_sfloat_bytes_on_air(on_air, raw):
    assert int.from_bytes(h(on_air), "little") == raw


@pytest.mark.parametrize("on_air", ["FF FF 7F 00", "00 00 80 00", "FE FF 7F 00", "02 00 80 00", "01 00 80 00"])
def test_special_float_bytes_on_air(on_air):
    assert isinstance(float_from_raw(int.from_bytes(h(on_air), "little")), Special)


# devices.md §1.1 examples table (value, SFLOAT raw, FLOAT raw)
@pytest.mark.parametrize(
    "text,sraw,fraw",
    [
        ("2", 0x0002, 0x00000002),
        ("2.0", 0xF014, 0xFF000014),
        ("2.00", 0xE0C8, 0xFE0000C8),
        ("2E+1", 0x1002, 0x01000002),
        ("-1234", 0x0B2E, 0x00FFFB2E),
        ("36.6", 0xF16E, 0xFF00016E),
    ],
)
def test_examples(text, sraw, fraw):
    assert str(sfloat_from_raw(sraw)) == text  # precision kept: 2, 2.0 and 2.00 differ
    assert str(float_from_raw(fraw)) == text
    assert sfloat_to_raw(Decimal(text)) == sraw
    assert float_to_raw(Decimal(text)) == fraw


def test_examples_on_air_and_precision():
    assert h("6E F1") == (0xF16E).to_bytes(2, "little")
    assert h("6E 01 00 FF") == (0xFF00016E).to_bytes(4, "little")
    assert str(float_from_raw(int.from_bytes(h("B0 0E 00 FE"), "little"))) == "37.60"
    assert float(sfloat_from_raw(sfloat_to_raw(Decimal("38.4")))) == 38.4  # not 38.400000000000006


# devices.md §1.3
def test_nordic_temperature_vector():
    r = PROFILES["ble-temperature"](h("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04"))
    assert r.temperature_c == 37.6
    assert r.device_values["temperature"] == "37.60"
    assert r.device_time == datetime(2012, 12, 5, 11, 50, 27)
    assert r.status["temperature_type"] == "finger"


def test_nordic_temperature_truncated_rejected():
    with pytest.raises(DecodeError, match="truncated"):
        PROFILES["ble-temperature"](h("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B"))


def test_our_temperature_vector():
    r = PROFILES["ble-temperature"](h("06 6E 01 00 FF E9 07 03 0E 08 1E 00 06"))
    assert r.temperature_c == 36.6
    assert r.device_time == datetime(2025, 3, 14, 8, 30, 0)
    assert r.status["temperature_type"] == "mouth"


def test_fahrenheit_converted_and_kept():
    r = PROFILES["ble-temperature"](h("01 DA 03 00 FF"))
    assert r.device_values["temperature"] == "98.6" and r.device_values["unit"] == "°F"
    assert r.temperature_c == 37.0


def test_temperature_nan_is_not_a_number():
    r = PROFILES["ble-temperature"](h("00 FF FF 7F 00"))
    assert r.temperature_c is None
    assert "temperature_c" in r.model_fields_set
    assert r.invalid == {"temperature_c": "not-a-number"}


def test_trailing_bytes_rejected():
    with pytest.raises(BleDecodeError, match="trailing"):
        PROFILES["ble-temperature"](h("00 6E 01 00 FF 00"))


# devices.md §1.4
def test_nordic_bpm_full_vector():
    raw = h("1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00")
    m = parse_blood_pressure(raw)
    assert m.timestamp == DateTime(0, 4, 17, 20, 41, 59)  # year unknown: no exception
    r = PROFILES["ble-blood-pressure"](raw)
    assert (r.systolic_mmhg, r.diastolic_mmhg, r.mean_arterial_mmhg, r.pulse_bpm) == (138, 88, 120, 60)
    assert r.device_time is None and "year" in r.device_values["device_time_problem"]
    assert r.device_values["device_time"] == "0000-04-17T20:41:59"
    assert r.device_values["user_id"] == 1 and r.device_values["measurement_status"] == 0x0027
    assert r.status == {
        "user": 1, "body_movement": True, "cuff_too_loose": True, "irregular_pulse": True,
        "pulse_rate_range": "within-range", "improper_position": True,
    }


def test_nordic_bpm_kpa_vector():
    r = PROFILES["ble-blood-pressure"](h("15 BD F0 0B 00 9F F0 3C 00 12 00"))
    assert r.device_values["unit"] == "kPa"
    assert (r.device_values["systolic"], r.device_values["diastolic"], r.device_values["mean_arterial"]) == ("18.9", "11", "15.9")
    assert r.systolic_mmhg == 141.8 and r.diastolic_mmhg == 82.5 and r.mean_arterial_mmhg == 119.3
    assert r.pulse_bpm == 60
    assert r.status["cuff_too_loose"] and r.status["pulse_rate_range"] == "below-lower-limit"
    assert not r.status["body_movement"]


def test_nordic_bpm_minimal_vector():
    m = parse_blood_pressure(h("00 BD F0 0B 00 9F F0"))
    assert (str(m.systolic), str(m.diastolic), str(m.mean_arterial)) == ("18.9", "11", "15.9")
    r = PROFILES["ble-blood-pressure"](h("00 BD F0 0B 00 9F F0"))
    assert r.systolic_mmhg == 18.9 and r.device_values["unit"] == "mmHg"


def test_nordic_icp_vector():
    r = PROFILES["ble-cuff-pressure"](h("00 D7 F0 00 00 00 00"))
    assert r.device_values["cuff_pressure_mmhg"] == 21.5
    assert r.values() == {}  # progress, not a result


def test_our_bpm_vector():
    r = PROFILES["ble-blood-pressure"](h("1E 78 00 50 00 5D 00 E9 07 03 0E 08 1E 00 48 00 01 05 00"))
    assert (r.systolic_mmhg, r.diastolic_mmhg, r.mean_arterial_mmhg, r.pulse_bpm) == (120, 80, 93, 72)
    assert r.device_time == datetime(2025, 3, 14, 8, 30, 0)
    assert r.status["body_movement"] and r.status["irregular_pulse"] and not r.status["cuff_too_loose"]


def test_bpm_nan_systolic():
    r = PROFILES["ble-blood-pressure"](h("00 FF 07 50 00 5D 00"))
    assert r.systolic_mmhg is None and r.invalid["systolic_mmhg"] == "not-a-number"
    assert r.diastolic_mmhg == 80


# devices.md §1.5
def test_plx_spot_vector():
    raw = h("06 61 00 48 00 80 00 08 00 00")
    m = parse_spot_check(raw)
    assert (m.spo2, m.pulse_rate, m.measurement_status, m.device_status) == (97, 72, 1 << 7, 1 << 3)
    r = PROFILES["ble-plx-spot"](raw)
    assert r.status["measurement_status"] == ["validated_data"]
    assert r.status["device_and_sensor_status"] == ["inadequate_signal_detected"]
    # inadequate signal = "not usable" (devices.md §1.5 D): numbers kept as sent, not as values
    assert r.spo2_percent is None and r.device_values["spo2"] == "97" and r.device_values["pulse_rate"] == "72"
    assert "inadequate_signal" in r.invalid["spo2_percent"]


def test_plx_continuous_vector():
    raw = h("10 62 00 41 00 34 F0")
    m = parse_continuous(raw)
    assert str(m.pulse_amplitude_index) == "5.2"
    r = PROFILES["ble-plx-continuous"](raw)
    assert r.spo2_percent == 98 and r.pulse_bpm == 65
    assert r.device_values["pulse_amplitude_index_percent"] == "5.2"


# devices.md §2
def test_berrymed_vector():
    p = parse_packet(h("85 28 43 16 61"))
    assert (p.signal_strength, p.pleth, p.bargraph, p.pulse_rate, p.spo2) == (5, 40, 3, 150, 97)
    r = PROFILES["berrymed"](h("85 28 43 16 61"))
    assert r.pulse_bpm == 150 and r.spo2_percent == 97


def test_berrymed_no_finger_vector():
    p = parse_packet(h("85 32 53 7F 7F"))
    assert p.no_finger and p.pulse_rate == 255 and p.spo2 == 127
    r = PROFILES["berrymed"](h("85 32 53 7F 7F"))
    assert r.pulse_bpm is None and r.spo2_percent is None
    assert r.invalid == {"spo2_percent": "invalid-code-127", "pulse_bpm": "invalid-code-255"}


def test_berrymed_resync():
    fr = BerryMedFramer()
    stream = h("16 61") + h("85 28 43 16 61") + h("90") + h("85 32 53 7F 7F")
    out = []
    for i in range(0, len(stream), 3):
        out += fr.feed(stream[i : i + 3])
    assert [raw.hex() for _, raw in out] == ["8528431661", "853253" + "7f7f"]
    assert fr.discarded == 3


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 3])
def test_short_input_typed_error(profile, data):
    with pytest.raises(DecodeError) as exc:
        PROFILES[profile](data)
    assert str(exc.value)  # a message a person can act on
