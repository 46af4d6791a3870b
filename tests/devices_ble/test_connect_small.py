"""A 20-connect version of bench/ble_connect.py (the 200-connect run belongs in bench/)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ble_connect.py"


def test_twenty_connects_under_drops(arun):
    spec = importlib.util.spec_from_file_location("ble_connect_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = arun(mod.bench(connects=20, drop=0.2, speed=1000.0, seed=5), timeout=90)
    # P(3 drops in a row) = 0.8 %: 20 trials almost surely all succeed; allow one miss
    assert res["connected_within_attempts"] >= 19
    assert res["first_reading_count"] >= 19
