"""The background AnalyticsRunner: recomputes into analytics_results, de-duplicates alarms, survives a
broken analysis, loads the roster files of its settings, stops cleanly."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from firmware_bridges.configfile import ConfigError
from hub.analytics import AnalyticsRunner, AnalyticsSettings, load_analytics_settings, read_result
from hub.analytics.settings import settings_for_hub
from hub.store import Store
from tests.analytics.an_helpers import Records
from tests.foundation.helpers import wait_until

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
D1 = datetime(2026, 3, 2, tzinfo=timezone.utc)


@pytest.fixture
def store(hub_store_url):  # a SQLite file or a PostgreSQL database (--hub-backends)
    s = Store(hub_store_url, synchronous="NORMAL")
    yield s
    s.close()


def test_runner_thread_recomputes_and_alarms_are_not_duplicated(store):
    rec = Records(store)
    rec.noise("press", D1, [92.0] * 24, step_min=60)
    rec.smoke("wc", D1 + timedelta(hours=3))
    runner = AnalyticsRunner(store, AnalyticsSettings(interval_s=0.2)).start()
    try:
        wait_until(lambda: runner.runs >= 3, timeout=30, message="three recomputations")
        first = read_result(store, "noise-zones")
        wait_until(lambda: read_result(store, "noise-zones")["computed_at"] > first["computed_at"], timeout=30,
                   message="a newer result")
        assert runner.running and not runner.errors
    finally:
        runner.stop()
    assert not runner.running
    rows = store.query("SELECT kind, key, first_seen, last_seen FROM alarms ORDER BY kind")
    assert [(r["kind"], r["key"]) for r in rows] == [
        ("noise_over_limit", "plant-1|press|2026-03-02"), ("smoke_violation", "plant-1|wc|2026-03-02T03:00:00+00:00")]
    assert all(r["last_seen"] > r["first_seen"] for r in rows), "recomputations refresh, never duplicate"
    assert first["result"]["zones"][0]["period"]["class"] == "3.2"


def test_a_broken_analysis_does_not_stop_the_others(store):
    Records(store).noise("press", D1, [85.0] * 4, step_min=60)
    runner = AnalyticsRunner(store, AnalyticsSettings(enabled=False))
    with store.lock:  # a roster row that is not a valid document: the roster-based analyses must fail loudly
        store.conn.execute("INSERT INTO workplaces VALUES ('plant-1', 'now', 'test', '{\"site\": 5}')")
    summary = runner.run_once()
    assert not summary["analyses"]["noise-zones"]["ok"] and "ValidationError" in runner.errors["noise-zones"]
    assert summary["analyses"]["rt-febrile"]["ok"], "an analysis without the roster still runs"
    assert read_result(store, "rt-febrile") is not None and read_result(store, "noise-zones") is None


def test_settings_file_loads_rosters_relative_to_itself(tmp_path, store, monkeypatch):
    settings = load_analytics_settings(ROOT / "configs" / "analytics.example.toml")
    assert settings.workplaces == [ROOT / "configs" / "workplaces.example.toml"]
    runner = AnalyticsRunner(store, settings.model_copy(update={"enabled": False})).start()
    assert not runner.running
    doc = json.loads(store.scalar("SELECT document FROM workplaces WHERE site = 'plant-1'"))
    assert {a["workplace"] for a in doc["assignments"]} == {"press-operator", "engineer"}
    bad = tmp_path / "a.toml"
    bad.write_text('timezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown time zone"):
        load_analytics_settings(bad)
    monkeypatch.setenv("OHS_ANALYTICS_CONFIG", str(ROOT / "configs" / "analytics.example.toml"))
    assert settings_for_hub(object()).interval_s == 60.0


def test_stop_waits_for_a_running_computation(store):
    runner = AnalyticsRunner(store, AnalyticsSettings(interval_s=3600)).start()
    wait_until(lambda: runner.runs >= 1, timeout=30, message="the first run at start")
    began = time.monotonic()
    runner.stop()
    assert not runner.running and time.monotonic() - began < 5
