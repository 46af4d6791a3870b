"""[[devices]] declarations: conversion to the bridges' own config models, and errors that
name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.config import ConfigError, KioskConfig, load_kiosk_config
from edge_agent.devices import DeviceDeclaration
from edge_agent.devices.config import KIND_RULES
from firmware_bridges.ble.config import BleDeviceConfig
from firmware_bridges.devices import (
    AlcotesterConfig,
    BadgeReaderConfig,
    ModbusLink,
    NoiseConfig,
    ParticulateConfig,
    SerialSettings,
    SmokeConfig,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "kiosk-devices.example.toml"
ID = {"model": "M", "serial": "S", "verified_until": "2027-01-31"}


def test_example_declares_every_kind_and_converts():
    cfg = load_kiosk_config(EXAMPLE)
    assert {d.kind for d in cfg.devices} == set(KIND_RULES)
    assert {d.transport for d in cfg.devices} == {"ble", "serial", "modbus-rtu", "modbus-tcp"}
    want = {
        "thermometer": BleDeviceConfig, "bp_cuff": BleDeviceConfig, "oximeter": BleDeviceConfig,
        "alcotester": AlcotesterConfig, "badge_reader": BadgeReaderConfig, "particulate": ParticulateConfig,
        "noise": NoiseConfig, "smoke": SmokeConfig, "printer": SerialSettings,
    }
    for d in cfg.devices:
        bc = d.bridge_config()
        assert isinstance(bc, want[d.kind]), d.name
        if not isinstance(bc, SerialSettings):
            assert bc.identity.kind == d.kind and bc.identity.model == d.identity.model
    noise = next(d for d in cfg.devices if d.kind == "noise").bridge_config()
    assert noise.link == ModbusLink(transport="serial", port="/dev/ttyUSB0", baudrate=9600, unit_id=1, timeout_s=1.0)
    smoke = next(d for d in cfg.devices if d.kind == "smoke").bridge_config()
    assert smoke.link.transport == "rtu-over-tcp" and smoke.link.tcp_port == 5021 and smoke.alarm.alarm_when == 1
    oxi = next(d for d in cfg.devices if d.kind == "oximeter").bridge_config()
    assert oxi.profile == "berrymed" and oxi.advertised_name == "BerryMed"


def test_kiosk_config_without_devices_still_loads():
    cfg = KioskConfig.model_validate({"identity": {"site": "s", "kiosk": "k"}})
    assert cfg.devices == []


def test_default_profile_and_serial_settings_routing():
    d = DeviceDeclaration(name="pm", kind="particulate", transport="serial", path="/dev/ttyS0", identity=ID,
                          baudrate=4800, options={"parity": "E", "frame_timeout_s": 3})
    bc = d.bridge_config()
    assert d.profile == "pms5003" and bc.serial == SerialSettings(port="/dev/ttyS0", baudrate=4800, parity="E")
    assert bc.frame_timeout_s == 3 and bc.name == "pm"


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"kind": "thermometer", "transport": "serial", "path": "/dev/x"}, "over ble"),
        ({"kind": "oximeter", "transport": "ble", "profile": "pms5003"}, "not a oximeter profile"),
        ({"kind": "alcotester", "transport": "serial"}, "needs 'path'"),
        ({"kind": "noise", "transport": "modbus-tcp", "host": "h"}, "needs 'host' and 'port'"),
        ({"kind": "badge_reader", "transport": "serial", "path": "/x", "options": {"serial": {}}}, "may not set serial"),
        ({"kind": "badge_reader", "transport": "serial", "path": "/x", "options": {"dedup_windw_s": 1}}, "options.dedup_windw_s"),
        ({"kind": "thermometer", "transport": "ble", "options": {"connect_timeout_s": 2}}, "options.connect_timeout_s"),
        ({"kind": "smoke", "transport": "modbus-rtu", "path": "/x", "options": {"alarm": {"function": 9}}}, "options.alarm.function"),
        ({"kind": "printer", "transport": "serial", "path": "/x", "options": {"speed": 1}}, "printer takes no options"),
        ({"kind": "badge_reader", "transport": "serial", "path": "/x", "retry_initial_s": 5, "retry_max_s": 1}, "retry_max_s"),
    ],
)
def test_bad_declarations_are_refused_with_the_reason(kw, needle):
    with pytest.raises(ValidationError) as exc:
        DeviceDeclaration(name="d", identity=ID, **kw)
    assert needle in str(exc.value)


def test_bad_device_in_a_kiosk_file_names_the_entry(tmp_path):
    p = tmp_path / "kiosk.toml"
    p.write_text(
        '[identity]\nsite = "s"\nkiosk = "k"\n\n[[devices]]\nname = "ok"\nkind = "badge_reader"\ntransport = "serial"\n'
        'path = "/dev/ttyAMA0"\nidentity = { model = "RDM6300" }\n\n[[devices]]\nname = "bad"\nkind = "noise"\n'
        'transport = "ble"\nidentity = { model = "X" }\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_kiosk_config(p)
    assert "devices.1" in str(exc.value) and "modbus-rtu or modbus-tcp" in str(exc.value)
