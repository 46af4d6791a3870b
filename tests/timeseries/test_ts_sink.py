"""The sink on its own (a stand-in writer): line protocol, a bounded durable queue, offers that never
block, a refused point isolated, and the defaults stated in the example config and the docs."""

from __future__ import annotations

import threading
import time
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from firmware_bridges.contract import Envelope
from hub.config import HubConfig, RetentionSection, TimeseriesSection
from hub.timeseries import DurableQueue, TimeseriesSink, WriteRefused, telemetry_points, time_ns
from tests.foundation.helpers import wait_until
from tests.reliability.helpers import incoming
from tests.timeseries.helpers import ingest_with_sink, sample_readings, telemetry_wire

ROOT = Path(__file__).resolve().parents[2]


class FakeWriter:
    """Stands in for the HTTP writer: records batches; fails, blocks or refuses on demand."""

    def __init__(self):
        self.batches: list[list[str]] = []
        self.fail: Exception | None = None
        self.refuse_marker: str | None = None
        self.gate = threading.Event()
        self.gate.set()

    def write(self, lines):
        self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if self.refuse_marker and any(self.refuse_marker in line for line in lines):
            raise WriteRefused(400, "HTTP 400 Bad Request: unable to parse")
        self.batches.append(list(lines))

    def close(self):
        self.gate.set()

    @property
    def lines(self) -> list[str]:
        return [line for batch in self.batches for line in batch]


def _settings(**overrides) -> TimeseriesSection:
    return TimeseriesSection(url="http://127.0.0.1:9", **{"batch_size": 10, "flush_interval_s": 0.05,
                                                          "retry_initial_s": 0.02, "retry_max_s": 0.1, **overrides})


def _envelope(seq: int, readings: list[dict]) -> Envelope:
    return Envelope.model_validate_json(telemetry_wire(seq, readings)[1])


def test_line_protocol_tags_escaping_and_exact_nanoseconds():
    ts = datetime(2024, 6, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=3)))
    assert time_ns(ts) == 1_717_236_000_123_456_000
    readings = [{"sensor_id": "s\\1", "zone": "press shop,2=a", "ts": ts.isoformat(), "_ms": 0,
                 "values": {"noise_dba": 81.0, "pm10_ugm3": None, "temperature_c": 0.1 + 0.2}}]
    lines, invalid = telemetry_points([_envelope(1, readings)], "ohs_telemetry")
    assert invalid == 1
    assert lines == [
        "ohs_telemetry,kiosk=kiosk-01,quantity=noise_dba,sensor_id=s/1,site=plant-1,zone=press\\ shop\\,2\\=a "
        "value=81 1717236000123456000",
        "ohs_telemetry,kiosk=kiosk-01,quantity=temperature_c,sensor_id=s/1,site=plant-1,zone=press\\ shop\\,2\\=a "
        f"value={0.1 + 0.2!r} 1717236000123456000",
    ]


def test_queue_is_bounded_drops_the_oldest_and_counts_them_across_restarts(tmp_path):
    path = tmp_path / "q.db"
    queue = DurableQueue(path, max_points=100)
    assert queue.put([f"m v={i} {i}" for i in range(60)]) == 0
    assert queue.put([f"m v={i} {i}" for i in range(60, 150)]) == 50
    assert queue.depth == 100 and queue.counters["dropped_overflow"] == 50
    assert [line for _, line in queue.oldest(3)] == ["m v=50 50", "m v=51 51", "m v=52 52"]
    first_ids = [point_id for point_id, _ in queue.take(10)]
    assert queue.put(["m v=999 999"] * 5) == 5  # the batch in flight is kept, the next oldest go
    assert [point_id for point_id, _ in queue.oldest(10)] == first_ids
    assert [line for _, line in queue.oldest(11)][-1] == "m v=65 65"
    queue.release()
    queue.close()
    again = DurableQueue(path, max_points=100)
    assert again.depth == 100 and again.counters["dropped_overflow"] == 55 and again.counters["offered_points"] == 155
    again.close()


def test_offer_never_waits_for_the_store(tmp_path):
    writer = FakeWriter()
    writer.gate.clear()  # every write hangs until released
    sink = TimeseriesSink(_settings(), tmp_path / "q.db", writer=writer).start()
    try:
        envelopes = [_envelope(seq, sample_readings(seq)) for seq in range(1, 201)]
        started = time.perf_counter()
        for envelope in envelopes:
            sink.offer([envelope])
        assert time.perf_counter() - started < 0.5  # 200 offers while the writer hangs
        wait_until(lambda: sink.queue.depth == 200 * 8, message="everything offered to reach the disk queue")
        writer.gate.set()
        wait_until(sink.idle, message="the queue to drain")
        assert len(writer.lines) == 200 * 8 and len(set(writer.lines)) == 200 * 8
        assert max(len(batch) for batch in writer.batches) <= 10
    finally:
        sink.stop()


def test_ingest_goes_on_while_writes_fail_and_a_clean_stop_keeps_everything(tmp_path):
    ingest, sink = ingest_with_sink(tmp_path, "http://127.0.0.1:9")  # nothing listens on port 9
    try:
        wires = [telemetry_wire(seq, sample_readings(seq)) for seq in range(1, 31)]
        started = time.perf_counter()
        for i, wire in enumerate(wires):
            ingest.process(incoming([wire], first_mid=i + 1))
        assert time.perf_counter() - started < 10
        assert ingest.client.acks()[-1].through_seq == 30 and ingest.client.pubacks == list(range(1, 31))
    finally:
        sink.stop()
        ingest.store.close()
    queue = DurableQueue(tmp_path / "hub" / "timeseries-queue.db", max_points=10**6)
    assert queue.depth == 30 * 8 and queue.counters["invalid_skipped"] == 30
    queue.close()


def test_a_point_the_store_refuses_is_isolated_and_counted(tmp_path):
    writer = FakeWriter()
    writer.refuse_marker = "sensor_id=bad"
    sink = TimeseriesSink(_settings(batch_size=16), tmp_path / "q.db", writer=writer).start()
    try:
        readings = sample_readings(1) + [{"sensor_id": "bad", "zone": "z", "ts": "2024-06-01T10:00:00+00:00",
                                          "values": {"noise_dba": 80.0}, "_ms": 0}]
        sink.offer([_envelope(1, readings)])
        wait_until(sink.idle, message="the queue to drain")
        health = sink.health()
        assert health["rejected_points"] == 1 and health["written_points"] == 8
        assert not any("sensor_id=bad" in line for line in writer.lines) and len(writer.lines) == 8
    finally:
        sink.stop()


def test_a_store_error_keeps_the_points_and_retries_with_backoff(tmp_path):
    writer = FakeWriter()
    writer.fail = WriteRefused(503, "HTTP 503 Service Unavailable")
    sink = TimeseriesSink(_settings(), tmp_path / "q.db", writer=writer).start()
    try:
        sink.offer([_envelope(1, sample_readings(1))])
        wait_until(lambda: sink.health()["retries"] >= 3, message="retries")
        health = sink.health()
        assert health["status"] == "degraded" and "503" in health["last_error"]["message"]
        assert health["queue_depth"] == 8 and health["written_points"] == 0
        writer.fail = None
        wait_until(sink.idle, message="delivery after the store recovers")
        assert sink.health()["status"] == "ok" and len(writer.lines) == 8
    finally:
        sink.stop()


def test_example_config_and_docs_state_the_defaults():
    example = tomllib.loads((ROOT / "configs" / "hub.example.toml").read_text(encoding="utf-8"))
    config = HubConfig.model_validate(example)
    assert config.retention == RetentionSection()
    timeseries = TimeseriesSection(url=example["timeseries"]["url"])
    assert config.timeseries == timeseries.model_copy(update={"enabled": False})
    doc = (ROOT / "docs" / "timeseries.md").read_text(encoding="utf-8")
    for section in (RetentionSection(), timeseries):
        for key, value in section.model_dump(exclude={"url", "queue_path", "token"}).items():
            assert f"| `{key}` | {_shown(value)} |" in doc, key


def _shown(value) -> str:
    """A default as the docs table writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def test_the_server_fixture_fails_with_the_install_command_when_the_binary_is_missing(monkeypatch):
    from tests.timeseries import conftest

    monkeypatch.setattr(conftest, "victoria_metrics_binary", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y victoria-metrics"):
        conftest._binary_or_fail()
