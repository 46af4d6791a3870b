"""The new limits are configuration: the example config and docs/ohs.md state the code's defaults."""

from __future__ import annotations

from pathlib import Path

from hub.config import ModelsApiSection, PrivacySection, load_hub_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_and_docs_carry_the_defaults():
    config = load_hub_config(ROOT / "configs" / "hub.example.toml")
    assert config.models_api == ModelsApiSection() and config.privacy == PrivacySection()
    doc = (ROOT / "docs" / "ohs.md").read_text(encoding="utf-8")
    for key, value in ModelsApiSection().model_dump().items():
        assert f"| `{key}` | {value:.12g}" in doc, key
    assert "min_cell_size" in doc and "default 5, a design default" in doc
    assert "152-FZ" in doc and "323-FZ art. 13" in doc
