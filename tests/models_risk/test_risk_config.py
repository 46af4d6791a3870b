"""The shared TOML loader (hub/models/_config.py) and the tables of these models."""

from __future__ import annotations

import pytest

from hub.models import _config
from hub.models._config import ConfigError, load_table, merged, require, thaw


@pytest.mark.parametrize("name", ["risk_group", "reproductive", "risk_register", "quantitative", "score2", "charlson"])
def test_tables_load_and_are_read_only(name):
    table = load_table(name)
    assert table
    with pytest.raises(TypeError):
        table["new"] = 1  # type: ignore[index]
    assert load_table(name) is table  # cached


def test_merged_overlays_without_touching_the_cache():
    base = load_table("risk_group")
    changed = merged(base, {"aggregation": {"counting": "exact"}, "c1": None})
    assert changed["aggregation"]["counting"] == "exact"
    assert changed["aggregation"]["max_group"] == 5
    assert base["aggregation"]["counting"] == "at_least"


def test_require_and_thaw():
    table = load_table("score2")
    assert require(table, "plausibility.age_min") == 40.0
    with pytest.raises(ConfigError, match="plausibility.nothing"):
        require(table, "plausibility.nothing")
    assert isinstance(thaw(table)["categories"], list)


def test_missing_and_bad_tables(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text("this is = = not toml", encoding="utf-8")
    monkeypatch.setenv(_config.ENV_VAR, str(tmp_path))
    _config.clear_cache()
    try:
        with pytest.raises(ConfigError, match="not found"):
            load_table("risk_group")
        with pytest.raises(ConfigError, match="not valid TOML"):
            load_table("broken")
        with pytest.raises(ConfigError):
            load_table("../score2")
    finally:
        monkeypatch.delenv(_config.ENV_VAR)
        _config.clear_cache()
    assert load_table("risk_group")["aggregation"]["max_group"] == 5


def test_every_design_default_is_marked_or_sourced():
    """Each model table says where its values come from (standard of the issue)."""
    for name in ("risk_group", "reproductive", "risk_register", "quantitative", "score2", "charlson"):
        text = (_config.config_dir() / f"{name}.toml").read_text(encoding="utf-8")
        assert "seed" in text.lower() or "[K-S2]" in text
        assert "design default" in text.lower()
