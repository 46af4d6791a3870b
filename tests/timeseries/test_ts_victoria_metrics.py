"""Telemetry reaches a real VictoriaMetrics through the v2 write API: values and timestamps exact,
each sample exactly once, across an outage of the server and a restart of the hub."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from edge_agent.agent import KioskAgent
from hub.config import TimeseriesSection
from hub.service import HubService
from tests.foundation.helpers import hub_config, kiosk_config, wait_until
from tests.reliability.helpers import incoming
from tests.storage.backend import store_on_each_backend, use_store_of_this_test  # noqa: F401 — autouse: both back ends
from tests.timeseries.helpers import (
    BASE_MS,
    KIOSK,
    SITE,
    body,
    expected_samples,
    ingest_with_sink,
    invalid_count,
    sample_readings,
    telemetry_wire,
)


def _process(ingest, messages, first_mid=1):
    ingest.process(incoming([telemetry_wire(seq, readings) for seq, readings in messages], first_mid=first_mid))


def test_telemetry_stored_by_the_hub_reaches_victoria_metrics_exactly(tmp_path, victoria_metrics):
    ingest, sink = ingest_with_sink(tmp_path, victoria_metrics.url)
    try:
        messages = [(seq, sample_readings(seq)) for seq in range(1, 9)]
        wires = [telemetry_wire(seq, readings) for seq, readings in messages]
        ingest.process(incoming(wires[:5]))
        ingest.process(incoming(wires[5:], first_mid=100))
        ingest.process(incoming(wires[:2], first_mid=200))  # a redelivery: duplicates, not offered again
        assert ingest.counters["duplicates"] == 2
        wait_until(sink.idle, timeout=30, message="the sink to deliver everything")

        expected = expected_samples(messages)
        stored = victoria_metrics.samples()
        assert stored == expected  # same labels, millisecond timestamps, values, each exactly once
        assert len(stored) == 8 * (3 * 2 + 2)

        health = sink.health()
        assert health["status"] == "ok" and health["queue_depth"] == 0
        assert health["written_points"] == len(expected)
        assert health["invalid_skipped"] == invalid_count(messages) == 8
        assert health["last_success"] and health["last_error"] is None

        # the same samples through the query API (PromQL), at the newest reading of "dust-1"
        newest = max(r["_ms"] for _, readings in messages for r in readings if r["sensor_id"] == "dust-1")
        result = victoria_metrics.query('last_over_time(ohs_telemetry_value{quantity="pm2_5_ugm3"}[1m])',
                                        newest / 1000)
        assert [float(series["value"][1]) for series in result] == [12.25 * 8]
        assert result[0]["metric"]["zone"] == "yard=1" and result[0]["metric"]["site"] == SITE
    finally:
        sink.stop()
        ingest.store.close()


@pytest.mark.parametrize("outage", ["stopped", "killed"])
def test_server_down_ingest_goes_on_then_everything_arrives_once(tmp_path, victoria_metrics_server, outage):
    vm = victoria_metrics_server.start()
    ingest, sink = ingest_with_sink(tmp_path, vm.url)
    try:
        before = [(seq, sample_readings(seq)) for seq in range(1, 4)]
        _process(ingest, before)
        wait_until(sink.idle, timeout=30, message="delivery before the outage")
        assert vm.samples() == expected_samples(before)  # (this also flushes the server's buffers to disk)

        vm.stop() if outage == "stopped" else vm.kill()
        during = [(seq, sample_readings(seq)) for seq in range(4, 16)]
        for i, message in enumerate(during):  # the ingest goes on: stored, PUBACKed and acked
            _process(ingest, [message], first_mid=100 + i)
        assert ingest.client.acks()[-1].through_seq == 15
        assert ingest.store.scalar("SELECT count(*) FROM received WHERE kind = 'telemetry'") == 15
        points_during = sum(expected_samples(during).values())
        wait_until(lambda: sink.health()["queue_depth"] == points_during and sink.health()["retries"] >= 2,
                   timeout=20, message="the queue to hold the outage's points while writes fail")
        health = sink.health()
        assert health["status"] == "degraded" and health["failing_since"]
        assert "Connection refused" in health["last_error"]["message"] or "connect" in health["last_error"]["message"]
        assert health["oldest_waiting_s"] is not None
        queue_rows = sqlite3.connect(sink.queue.path).execute("SELECT count(*) FROM points").fetchone()[0]
        assert queue_rows == points_during  # on disk, not only in memory

        vm.start()
        wait_until(sink.idle, timeout=30, message="the queue to drain once the server is back")
        stored = vm.samples()
        assert set(stored.values()) == {1}  # VictoriaMetrics keeps repeats (no -dedup flag): none was sent twice
        if outage == "stopped":
            assert stored == expected_samples(before + during)
        else:  # a SIGKILLed victoria-metrics loses what it had accepted but not yet written to its files
            # (its own buffering, even after /internal/force_flush): the outage's points all arrive, once
            assert set(expected_samples(during)) <= set(stored) <= set(expected_samples(before + during))
        health = sink.health()
        assert health["status"] == "ok" and health["failing_since"] is None
        assert health["written_points"] == sum(expected_samples(before + during).values())
        assert health["dropped_overflow"] == 0
    finally:
        sink.stop()
        ingest.store.close()


def test_hub_restart_delivers_the_queue_it_left(tmp_path, broker, victoria_metrics_server):
    vm = victoria_metrics_server  # not started: the store is down while the hub runs
    config = use_store_of_this_test(hub_config(tmp_path, broker)).model_copy(update={"timeseries": TimeseriesSection(
        url=vm.url, batch_size=20, flush_interval_s=0.1, retry_initial_s=0.05, retry_max_s=0.3, timeout_s=5)})
    hub = HubService(config).start(connect_timeout=10)
    kiosk = KioskAgent(kiosk_config(tmp_path, broker)).start()
    messages = [(seq, sample_readings(seq, per_message=2)) for seq in range(1, 7)]
    expected = expected_samples(messages)
    try:
        for _, readings in messages:
            kiosk.record("telemetry", body(readings))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=30, message="the kiosk's telemetry acked")
        wait_until(lambda: hub.timeseries.queue.depth == len(expected), timeout=20, message="points queued")
        wait_until(lambda: hub.timeseries.health()["retries"] >= 1, timeout=20, message="a failed write")
        health = httpx.get(f"{hub.url}/api/v1/health", timeout=10).json()
        assert health["timeseries"]["queue_depth"] == len(expected)
        assert health["timeseries"]["status"] == "degraded" and health["timeseries"]["last_error"]
        assert health["status"] == "degraded" and "timeseries" in {p["code"] for p in health["problems"]}
        assert health["records"]["telemetry_values"] == sum(len(r["values"]) for _, rs in messages for r in rs)
    finally:
        kiosk.stop()
        hub.stop()
    queue_file = tmp_path / "hub" / "timeseries-queue.db"
    assert sqlite3.connect(queue_file).execute("SELECT count(*) FROM points").fetchone()[0] == len(expected)

    vm.start()
    hub = HubService(config).start(connect_timeout=10)
    try:
        wait_until(hub.timeseries.idle, timeout=30, message="the restarted hub to deliver the queue")
        stored = vm.samples()
        assert stored == expected and set(stored.values()) == {1}
        assert {dict(labels)["kiosk"] for labels, _, _ in stored} == {KIOSK}
        assert min(ts for _, ts, _ in stored) >= BASE_MS
        health = httpx.get(f"{hub.url}/api/v1/health", timeout=10).json()
        assert health["timeseries"]["status"] == "ok" and health["timeseries"]["queue_depth"] == 0
        assert health["timeseries"]["written_points"] == len(expected)
        assert health["timeseries"]["invalid_skipped"] == invalid_count(messages)  # counted before the restart
    finally:
        hub.stop()
