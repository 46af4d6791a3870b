"""configs/devices/ble-*.toml load; production config enforces the >= 10 s connect timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from firmware_bridges.ble.config import BleDeviceConfig, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "devices").glob("ble-*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_configs_load(path):
    cfg = load_config(path)
    assert cfg.connect_timeout_s >= 10 and cfg.identity.verified_until


def test_short_connect_timeout_rejected():
    with pytest.raises(ValidationError, match="greater than or equal to 10"):
        BleDeviceConfig(profile="ble-temperature", identity={"kind": "thermometer", "model": "x"}, connect_timeout_s=2)


def test_profile_kind_mismatch_rejected():
    with pytest.raises(ValidationError, match="is a bp_cuff"):
        BleDeviceConfig(profile="ble-blood-pressure", identity={"kind": "thermometer", "model": "x"})


def test_config_file_errors_name_the_file_and_the_key(tmp_path):
    from firmware_bridges.configfile import ConfigError

    path = tmp_path / "ble-thermometer.toml"
    path.write_text('profile = "ble-temperature"\nconnect_timeout_s = 2\n'
                    '[identity]\nkind = "thermometer"\nmodel = "x"\n')
    with pytest.raises(ConfigError, match=rf"^{path}: connect_timeout_s: .*greater than or equal to 10 \(got 2\)"):
        load_config(path)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml")
