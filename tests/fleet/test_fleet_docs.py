"""Every [fleet] default is in configs/hub.example.toml and in the table of docs/fleet.md."""

from __future__ import annotations

from pathlib import Path

from hub.config import load_hub_config
from hub.fleet import FleetSettings, render_acl

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_and_docs_carry_the_fleet_defaults():
    assert load_hub_config(ROOT / "configs" / "hub.example.toml").fleet == FleetSettings()
    doc = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip().strip("`"): line for line in doc.splitlines() if line.startswith("| `")}
    for key, value in FleetSettings().model_dump().items():
        assert key in rows, f"docs/fleet.md has no row for [fleet] {key}"
        if isinstance(value, (int, float)):
            assert f"| {value:g}" in rows[key], (key, rows[key])
        elif isinstance(value, str):
            assert f"`{value}`" in rows[key], (key, rows[key])
    flat = " ".join(doc.split())
    assert "reference.md` §1.6" in flat and "design default (D)" in flat


def test_the_shipped_template_renders_per_kiosk_blocks_only():
    acl = render_acl((ROOT / "configs" / "mosquitto" / "acl").read_text(), "hub-main", ["plant-1/kiosk-01"])
    lines = [line for line in acl.splitlines() if line and not line.startswith("#")]
    assert lines == ["user hub-main", "topic readwrite ohs/v1/#", "user plant-1/kiosk-01",
                     *(f"topic write ohs/v1/plant-1/kiosk-01/{k}" for k in ("exam", "telemetry", "event", "status")),
                     *(f"topic read ohs/v1/plant-1/kiosk-01/{k}" for k in ("ack", "config", "cmd"))]
