"""Device config examples load; population distributions are plausible and reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from firmware_bridges.devices import (
    DeviceError,
    DeviceNotResponding,
    load_device_config,
    parse_device_config,
)
from simulators import population

ROOT = Path(__file__).resolve().parents[2]
MINE = ["alcotester.toml", "badge-rdm6300.toml", "pms5003.toml", "noise-sonbest.toml", "smoke.toml"]


@pytest.mark.parametrize("name", MINE)
def test_example_configs_load(name):
    cfg = load_device_config(str(ROOT / "configs" / "devices" / name))
    assert cfg.identity.kind == cfg.kind


def test_config_rejects_mismatch_and_missing():
    with pytest.raises(ValidationError, match="identity.kind"):
        parse_device_config({"kind": "noise", "identity": {"kind": "smoke", "model": "x"}, "link": {"port": "/dev/x"}})
    with pytest.raises(ValidationError, match="port"):
        parse_device_config({"kind": "noise", "identity": {"kind": "noise", "model": "x"}, "link": {"transport": "serial"}})
    with pytest.raises(ValueError, match="kind"):
        parse_device_config({"kind": "toaster"})


def test_device_error_contract():
    e = DeviceNotResponding.for_kind("alcotester")
    assert isinstance(e, DeviceError) and e.code == "not_responding"
    assert e.message_ru.startswith("Алкотестер не отвечает") and "breathalyzer is not responding" in e.message_en
    assert e.to_dict()["error"] == "DeviceNotResponding"


def test_population_reproducible_and_plausible():
    a = population.population(population.rng_from(7), 2000, intoxicated_share=0.05)
    b = population.population(population.rng_from(7), 2000, intoxicated_share=0.05)
    assert a == b
    share = np.mean([w.intoxicated for w in a])
    assert 0.03 < share < 0.07
    rng = population.rng_from(1)
    sober = [population.sample_brac_mg_l(rng, False) for _ in range(2000)]
    drunk = [population.sample_brac_mg_l(rng, True) for _ in range(2000)]
    assert max(sober) < 0.16 and np.mean(np.array(sober) == 0) > 0.9  # RU threshold 0.16 mg/L (§3.2)
    assert np.median(drunk) > 0.16 and max(drunk) <= 1.5
    young = [population.sample_bp(rng, 25)[0] for _ in range(1000)]
    old = [population.sample_bp(rng, 60)[0] for _ in range(1000)]
    assert np.mean(old) - np.mean(young) > 10
    for _ in range(500):
        s, d, p = population.sample_bp(rng, 45)
        assert d < s and 45 <= p <= 140
        pm1, pm25, pm10 = population.sample_pm_ugm3(rng)
        assert pm1 <= pm25 <= pm10
    temps = [population.sample_temperature_c(rng, False) for _ in range(500)]
    assert max(temps) < 37.5


def test_device_config_file_errors_name_the_file_and_the_key(tmp_path):
    from firmware_bridges.configfile import ConfigError

    bad_port = tmp_path / "noise.toml"
    bad_port.write_text('kind = "noise"\n[identity]\nkind = "noise"\nmodel = "x"\n[link]\ntransport = "serial"\n')
    with pytest.raises(ConfigError, match=rf"^{bad_port}: link: .*needs 'port'"):
        load_device_config(bad_port)
    toaster = tmp_path / "toaster.toml"
    toaster.write_text('kind = "toaster"\n')
    with pytest.raises(ConfigError, match=rf"^{toaster}: kind: device 'kind' must be one of"):
        load_device_config(toaster)
    broken = tmp_path / "broken.toml"
    broken.write_text('kind = "noise\n')
    with pytest.raises(ConfigError, match=rf"^{broken}: not valid TOML: .*line 1"):
        load_device_config(broken)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_device_config(tmp_path / "absent.toml")
