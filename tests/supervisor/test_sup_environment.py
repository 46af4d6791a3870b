"""environment_to_telemetry / environment_alarm on readings decoded by the real codecs
from the devices.md vectors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from edge_agent.devices import EnvironmentLimits, environment_alarm, environment_to_telemetry
from firmware_bridges.contract import EventBody, TelemetryBody
from firmware_bridges.devices import SmokeConfig
from firmware_bridges.modbus import noise, smoke
from firmware_bridges.readings import DeviceIdentity, Reading
from firmware_bridges.serial import pms5003

T = datetime(2025, 3, 14, 5, 58, 12, tzinfo=timezone.utc)
PMS_VECTOR = "42 4D 00 1C 00 05 00 08 00 09 00 05 00 08 00 09 04 59 01 45 00 2E 00 02 00 00 00 00 00 00 01 AA"


def stamp(r: Reading, kind: str) -> Reading:
    return r.model_copy(update={"received_at": T, "device": DeviceIdentity(kind=kind, model="M", serial="S")})


def noise_reading(db: float) -> Reading:
    return stamp(noise.registers_to_reading(int(round(db * 10))), "noise")


def smoke_reading(obscuration_raw: int, alarm: int, fault: int = 0) -> Reading:
    cfg = SmokeConfig(identity=DeviceIdentity(kind="smoke", model="generic"), link={"port": "-"})
    return stamp(smoke.values_to_reading({"obscuration": obscuration_raw, "alarm": alarm, "fault": fault}, cfg), "smoke")


def test_telemetry_from_real_frames():
    n = stamp(noise.decode_response_frame(bytes.fromhex("01 03 02 02 18 B9 2E")), "noise")  # 53.6 dB (§4.1)
    pm = stamp(pms5003.decode_reading(bytes.fromhex(PMS_VECTOR)), "particulate")  # PM2.5 = 8 (§5.1)
    sm = smoke_reading(150, 0)
    body = environment_to_telemetry([("n1", n), ("pm1", pm), ("s1", sm)], {"n1": "shop-3", "pm1": "gate-1"})
    TelemetryBody.model_validate(body)
    r0, r1, r2 = body["readings"]
    assert r0 == r0 | {"sensor_id": "n1", "zone": "shop-3", "values": {"noise_dba": 53.6}, "ts": "2025-03-14T05:58:12Z"}
    assert r1["values"] == {"pm1_0_ugm3": 5.0, "pm2_5_ugm3": 8.0, "pm10_ugm3": 9.0} and r1["device_model"] == "M"
    assert r2["zone"] == "unassigned" and r2["values"] == {"smoke_obscuration_pct_ft": 1.5} and r2["status"]["alarm"] is False


def test_telemetry_keeps_invalid_values_with_reasons():
    sm = smoke_reading(0, 0, fault=1)
    body = environment_to_telemetry([("s1", sm)], {"s1": "shop-3"})
    r = body["readings"][0]
    assert r["values"] == {"smoke_obscuration_pct_ft": None} and r["invalid"]["smoke_obscuration_pct_ft"]


def test_telemetry_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        environment_to_telemetry([], {})
    naive = noise_reading(60).model_copy(update={"received_at": datetime(2025, 1, 1)})
    with pytest.raises(ValueError, match="timezone-aware"):
        environment_to_telemetry([("n", naive)], {})


@pytest.mark.parametrize("db,event", [(79.9, False), (80.0, False), (80.1, True), (95.0, True)])
def test_noise_alarm_over_the_class_2_limit(db, event):
    ev = environment_alarm("n1", noise_reading(db), EnvironmentLimits(), zone="shop-3")
    if not event:
        assert ev is None  # class 2 is ≤ 80 dBA: 80.0 itself is within the limit (reference.md §4.2)
        return
    EventBody.model_validate(ev)
    assert ev["type"] == "noise_over_limit" and ev["severity"] == "warning" and ev["zone"] == "shop-3"
    assert ev["details"]["limit_dba"] == 80.0 and "§4.2" in ev["details"]["source"]
    assert "дБА" in ev["message_ru"] and "dBA" in ev["message_en"]


def test_noise_limit_is_configuration():
    assert environment_alarm("n1", noise_reading(83), {"noise_limit_dba": 85}) is None
    assert environment_alarm("n1", noise_reading(86), {"noise_limit_dba": 85})["details"]["limit_dba"] == 85
    with pytest.raises(ValidationError):
        environment_alarm("n1", noise_reading(86), {"noise_limit": 85})


def test_smoke_events():
    assert environment_alarm("s1", smoke_reading(150, 0), EnvironmentLimits()) is None
    ev = environment_alarm("s1", smoke_reading(600, 1), EnvironmentLimits())
    assert EventBody.model_validate(ev).type == "smoke_alarm" and ev["severity"] == "critical" and ev["device"] == "s1"
    ev = environment_alarm("s1", smoke_reading(600, 0), {"smoke_obscuration_limit_pct_ft": 4.0})
    assert ev["type"] == "smoke_alarm" and ev["details"]["by"] == "obscuration_limit"
    ev = environment_alarm("s1", smoke_reading(0, 0, fault=1), EnvironmentLimits())
    assert ev["type"] == "smoke_state_unknown" and ev["severity"] == "alarm"  # fail closed (§5.2)


def test_particulate_and_invalid_noise_raise_no_alarm():
    pm = stamp(pms5003.decode_reading(bytes.fromhex(PMS_VECTOR)), "particulate")
    assert environment_alarm("pm1", pm, EnvironmentLimits()) is None
    c_weighted = stamp(noise.registers_to_reading(950, weighting="C"), "noise")  # not dB(A): value withheld
    assert c_weighted.noise_dba is None and environment_alarm("n1", c_weighted, EnvironmentLimits()) is None
