"""Byte-level vectors from /work/shared/domain/devices.md (§3.4, §4.1, §5.1, §5.2, §6.1, §7)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from firmware_bridges.modbus import frames, noise, smoke
from firmware_bridges.readings import DecodeError
from firmware_bridges.serial import alcotester as alc
from firmware_bridges.serial import badge, pms5003

ALC_LINES = {
    "req": b"$ALREQ,17,TEST,badge:0006102437*2D",
    "ack": b"$ALACK,17,OK*46",
    "evt": b"$ALEVT,17,T001001,BLOW_PROGRESS,50*49",
    "res": b"$ALRES,17,T001001,2025-03-14T05:58:12Z,0.212,MGL,1.45,4.8,34.1,SN000123,2025-09-30*42",
    "err": b"$ALERR,17,T001002,E01,INSUFFICIENT_VOLUME,0.62,1.3*21",
}


@pytest.mark.parametrize("name", list(ALC_LINES))
def test_alcotester_vectors_decode_and_reencode(name):
    line = ALC_LINES[name]
    msg = alc.decode_message(line + b"\r\n")
    assert msg.encode() == line + b"\r\n"


def test_alcotester_result_reading():
    r = alc.decode_reading(ALC_LINES["res"])
    assert r.brac_mg_l == 0.212
    assert r.status["test_id"] == "T001001"
    # §3.2: 0.212 mg/L → 0.42 ‰ at 2000:1, 0.45 ‰ at 2100:1 — with the ratio recorded
    assert r.status["bac_permille"] == pytest.approx(0.424)
    assert r.status["blood_breath_ratio"] == "2000:1"
    r2 = alc.decode_reading(ALC_LINES["res"], ratio=2100)
    assert r2.status["bac_permille"] == pytest.approx(0.445) and r2.status["blood_breath_ratio"] == "2100:1"
    assert r.device_values == {"brac": "0.212", "unit": "MGL"}
    assert r.device_time.isoformat() == "2025-03-14T05:58:12+00:00"


def test_alcotester_error_reading_is_invalid_not_a_number():
    r = alc.decode_reading(ALC_LINES["err"])
    assert "brac_mg_l" in r.model_fields_set and r.brac_mg_l is None
    assert r.invalid == {"brac_mg_l": "E01 INSUFFICIENT_VOLUME"}
    assert r.status["volume_l"] == 0.62


@pytest.mark.parametrize(
    "line, needle",
    [
        (ALC_LINES["ack"][:-1] + b"7", "checksum mismatch"),
        (ALC_LINES["ack"][:-3], "truncated"),
        (b"ALACK,17,OK*46", "no sync"),
        (b"$ALACK,17,OK*4G", "hex"),
        (alc.frame("ALRES,17,T1,2025-03-14T05:58:12Z,0.212,MGL,1.45").rstrip(), "wrong length"),
        (alc.frame("ALRES,17,T1,2025-03-14T05:58:12Z,0.212,PML,1.45,4.8,34.1,SN1,2025-09-30").rstrip(), "unit"),
        (alc.frame("ALXXX,17").rstrip(), "unknown"),
        (b"", "empty"),
    ],
)
def test_alcotester_bad_lines(line, needle):
    with pytest.raises(DecodeError, match=needle):
        alc.decode_message(line)


def test_alcotester_conversion_ratios():
    assert alc.permille(Decimal("0.212"), 2000) == Decimal("0.424")
    assert alc.permille(Decimal("0.212"), 2100) == Decimal("0.445")


PMS_VECTOR = bytes.fromhex("42 4D 00 1C 00 05 00 08 00 09 00 05 00 08 00 09 04 59 01 45 00 2E 00 02 00 00 00 00 00 00 01 AA")


def test_pms5003_vector():
    r = pms5003.decode_reading(PMS_VECTOR)
    assert (r.pm1_0_ugm3, r.pm2_5_ugm3, r.pm10_ugm3) == (5.0, 8.0, 9.0)
    assert r.device_values["counts_per_0_1l"]["gt0_3um"] == 1113
    assert pms5003.decode_frame(PMS_VECTOR).encode() == PMS_VECTOR


@pytest.mark.parametrize("bit", [0, 7, 100, 215])
def test_pms5003_one_bit_corruption_rejected(bit):
    bad = bytearray(PMS_VECTOR)
    bad[4 + bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecodeError):
        pms5003.decode_reading(bytes(bad))


def test_pms5003_truncated_and_no_sync():
    with pytest.raises(DecodeError, match="truncated"):
        pms5003.decode_reading(PMS_VECTOR[:-1])
    with pytest.raises(DecodeError, match="no sync"):
        pms5003.decode_reading(b"\x00" + PMS_VECTOR[1:])


@pytest.mark.parametrize(
    "cmd, hexstr",
    [
        (pms5003.CMD_PASSIVE, "42 4D E1 00 00 01 70"),
        (pms5003.CMD_ACTIVE, "42 4D E1 00 01 01 71"),
        (pms5003.CMD_READ, "42 4D E2 00 00 01 71"),
        (pms5003.CMD_SLEEP, "42 4D E4 00 00 01 73"),
        (pms5003.CMD_WAKE, "42 4D E4 00 01 01 74"),
    ],
)
def test_pms5003_commands(cmd, hexstr):
    assert cmd == bytes.fromhex(hexstr)


RDM = b"\x02" + b"13005D1DA5" + b"F6" + b"\x03"


def test_rdm6300_vector_and_formats():
    r = badge.decode_rdm6300(RDM)
    assert r.card_id == "0006102437"
    assert r.device_values["wiegand26"] == "093,07589"
    assert r.device_values["em_hex"] == "13005D1DA5"
    assert badge.decode_rdm6300(RDM, "em-wiegand26").card_id == "093,07589"
    assert badge.encode_rdm6300(0x13, 0x005D1DA5) == RDM


@pytest.mark.parametrize(
    "frame, needle",
    [
        (RDM[:-1], "wrong length"),
        (RDM[:11] + b"F7" + b"\x03", "checksum"),
        (b"\x03" + RDM[1:], "no sync"),
        (RDM[:-1] + b"\x04", "ETX"),
    ],
)
def test_rdm6300_bad(frame, needle):
    with pytest.raises(DecodeError, match=needle):
        badge.decode_rdm6300(frame)


def test_badge_lines():
    assert badge.decode_badge_line(b"0006102437\r\n").card_id == "0006102437"
    r = badge.decode_badge_line(b"04:a2:2b:1a\r\n")
    assert r.card_id == "04A22B1A" and r.status["technology"].startswith("Mifare")
    assert badge.decode_badge_line(b"04A22B1A5C6E80").device_values["uid_bytes"] == 7
    with pytest.raises(DecodeError):
        badge.decode_badge_line(b"hello")


@pytest.mark.parametrize(
    "hexstr",
    [
        "01 03 00 00 00 01 84 0A",  # SONBEST request (§7 worked example)
        "01 03 00 00 00 02 C4 0B",  # [MICRO]
        "01 03 02 02 18 B9 2E",  # SONBEST response
        "FF 02 00 00 00 08 6C 12",  # [SQR2] query
        "FF 02 01 01 51 A0",  # [SQR2] normal
        "FF 02 01 00 90 60",  # [SQR2] alarm
        "01 01 00 01 00 08 6C 0C",  # [RTK]
        "01 83 02 C0 F1",  # pymodbus illegal-address exception
    ],
)
def test_modbus_crc_vectors(hexstr):
    f = bytes.fromhex(hexstr)
    assert frames.crc16_modbus(f) == 0
    assert frames.with_crc(f[:-2]) == f


def test_modbus_crc_register_trace():
    # §7 table: CRC register after 01 03 00 00 00 01 is 0x0A84
    assert frames.crc16_modbus(bytes.fromhex("010300000001")) == 0x0A84
    assert frames.read_request(1, 3, 0, 1) == bytes.fromhex("01 03 00 00 00 01 84 0A")


def test_noise_vector():
    r = noise.decode_response_frame(bytes.fromhex("01 03 02 02 18 B9 2E"))
    assert r.noise_dba == 53.6 and r.device_values["raw"] == 536


def test_modbus_responses():
    ok = frames.decode_response(bytes.fromhex("FF 02 01 01 51 A0"))
    assert ok.bits(1) == [True]
    exc = frames.decode_response(bytes.fromhex("01 83 02 C0 F1"))
    assert isinstance(exc, frames.ExceptionResponse) and exc.code == 2 and exc.name == "illegal data address"
    with pytest.raises(DecodeError, match="exception"):
        noise.decode_response_frame(bytes.fromhex("01 83 02 C0 F1"))
    with pytest.raises(DecodeError, match="CRC"):
        noise.decode_response_frame(bytes.fromhex("01 03 02 02 18 B9 2F"))
    with pytest.raises(DecodeError, match="too short"):
        noise.decode_response_frame(bytes.fromhex("01 03 02"))
    with pytest.raises(DecodeError, match="byte count"):
        noise.decode_response_frame(frames.with_crc(bytes.fromhex("01 03 04 02 18")))


def test_smoke_register_map_and_polarity():
    from firmware_bridges.devices import ModbusLink, RegisterSpec, SmokeConfig
    from firmware_bridges.readings import DeviceIdentity

    ident = DeviceIdentity(kind="smoke", model="X")
    r = smoke.decode_response_frame(frames.ReadResponse(1, 3, bytes.fromhex("01F4 0001 0000")).encode())
    assert r.smoke_obscuration_pct_ft == 5.0 and r.status == {"alarm": True, "fault": False}
    r = smoke.decode_response_frame(frames.ReadResponse(1, 3, bytes.fromhex("0000 0000 0001")).encode())
    assert r.smoke_obscuration_pct_ft is None and r.status["alarm"] is None  # fail closed (§5.2)
    # [SQR2]-style inverted polarity: 1 = OK
    cfg = SmokeConfig(identity=ident, link=ModbusLink(port="-"), obscuration=None, fault=None,
                      alarm=RegisterSpec(function=3, address=0, datatype="bool", alarm_when=0))
    assert smoke.values_to_reading({"alarm": 1}, cfg).status["alarm"] is False
    assert smoke.values_to_reading({"alarm": 0}, cfg).status["alarm"] is True
