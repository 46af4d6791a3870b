"""The one TOML loader (firmware_bridges.configfile): every error names the file (or source), the key and
what was expected."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from firmware_bridges.configfile import ConfigError, load_toml, load_toml_model, parse_toml


class _Mqtt(BaseModel):
    port: int = Field(1883, le=65535)


class _Kiosk(BaseModel):
    name: str
    mqtt: _Mqtt = _Mqtt()


def test_a_good_file_loads_and_validates(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('name = "k1"\n[mqtt]\nport = 1884\n', encoding="utf-8")
    assert load_toml(path) == {"name": "k1", "mqtt": {"port": 1884}}
    assert load_toml_model(path, _Kiosk).mqtt.port == 1884


def test_file_problems_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'absent.toml'}: configuration file not found$"):
        load_toml(tmp_path / "absent.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^{latin}: not UTF-8 text \(byte 11\)$"):
        load_toml(latin)
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "k1"\nport = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{broken}: not valid TOML: .*line 2, column 8"):
        load_toml(broken)


def test_key_problems_name_the_key_and_the_value(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[mqtt]\nport = 70000\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_toml_model(path, _Kiosk)
    assert str(error.value).splitlines() == [
        f"{path}: name: Field required",
        f"{path}: mqtt.port: Input should be less than or equal to 65535 (got 70000)",
    ]


def test_text_from_elsewhere_names_its_source():
    assert parse_toml('a = 1', "config push from the hub") == {"a": 1}
    with pytest.raises(ConfigError, match="^config push from the hub: not valid TOML"):
        parse_toml("a = ", "config push from the hub")
