"""``POST /api/v1/models/*``: body and item limits, a role, a bounded worker pool with a timeout,
and /api/v1/health answering while a big model run goes on."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.api_hardening.ah_helpers import ADMIN, MEDIC, OHS, auth, hub_client

RT = {"incidence": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "serial_interval": {"mean": 2.6, "sd": 1.5}}
T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def big_noise(readings: int = 60_000) -> dict:
    """A noise-exposure input that keeps a worker busy for seconds (a reading a minute, 1-minute intervals)."""
    return {"interval_minutes": 1, "zones": [{"zone": "z", "readings": [
        {"time": (T0 + timedelta(minutes=i)).isoformat(), "laeq_db": 80 + i % 7, "duration_s": 60}
        for i in range(readings)]}]}


BIG = {"max_body_bytes": 64 * 1024 * 1024, "max_items": 1_000_000}


def test_body_over_the_limit_is_413_by_content_length_and_while_reading(tmp_path):
    with hub_client(tmp_path, models_api={"max_body_bytes": 4096}) as (client, _):
        body = b'{"incidence":[' + b",".join([b"1"] * 4000) + b'],"serial_interval":{"mean":2.6,"sd":1.5}}'
        declared = client.post("/api/v1/models/rt", content=body,
                               headers={**auth(OHS), "Content-Type": "application/json"})
        assert declared.status_code == 413 and "4096 bytes" in declared.json()["detail"]

        def chunks():  # no Content-Length: chunked transfer
            for i in range(0, len(body), 1000):
                yield body[i:i + 1000]

        chunked = client.post("/api/v1/models/rt", content=chunks(),
                              headers={**auth(OHS), "Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in chunked.request.headers}
        assert chunked.status_code == 413 and "4096 bytes" in chunked.json()["detail"]
        small = client.post("/api/v1/models/rt", json=RT, headers=auth(OHS))
        assert small.status_code == 200, small.text


def test_lists_over_max_items_are_422_naming_the_limit(tmp_path):
    with hub_client(tmp_path, models_api={"max_items": 50}) as (client, _):
        payload = {**RT, "incidence": [1] * 51}
        response = client.post("/api/v1/models/rt", json=payload, headers=auth(OHS))
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert detail["field"] == "incidence" and "at most 50" in detail["message"]
        at_limit = client.post("/api/v1/models/rt", json={**RT, "incidence": [1] * 50}, headers=auth(OHS))
        assert at_limit.status_code == 200


def test_models_need_a_role(tmp_path):
    with hub_client(tmp_path) as (client, _):
        assert client.post("/api/v1/models/rt", json=RT).status_code == 401
        assert client.get("/api/v1/models").status_code == 401
        for token in (MEDIC, OHS, ADMIN):
            assert client.post("/api/v1/models/rt", json=RT, headers=auth(token)).status_code == 200
    with hub_client(tmp_path / "demo", api={"anonymous_role": "ohs"}) as (client, _):
        assert client.post("/api/v1/models/rt", json=RT).status_code == 200  # the demo's anonymous ohs


def test_a_run_over_timeout_is_stopped_with_504_and_the_pool_recovers(tmp_path):
    with hub_client(tmp_path, models_api={**BIG, "timeout_s": 1.0, "workers": 1}) as (client, _):
        assert client.post("/api/v1/models/rt", json=RT, headers=auth(OHS)).status_code == 200  # pool started
        slow = client.post("/api/v1/models/noise-exposure", json=big_noise(), headers=auth(OHS))
        assert slow.status_code == 504 and "timeout_s" in slow.json()["detail"]
        assert client.post("/api/v1/models/rt", json=RT, headers=auth(OHS)).status_code == 200


def test_a_saturated_pool_answers_503_at_once(tmp_path):
    with hub_client(tmp_path, models_api={**BIG, "workers": 1, "queue": 0, "timeout_s": 60}) as (client, app):
        assert client.post("/api/v1/models/rt", json=RT, headers=auth(OHS)).status_code == 200
        pool = app.state.model_pool
        results = {}
        runner = threading.Thread(target=lambda: results.update(
            slow=client.post("/api/v1/models/noise-exposure", json=big_noise(), headers=auth(OHS))))
        runner.start()
        _wait(lambda: pool._busy == 1)
        busy = client.post("/api/v1/models/rt", json=RT, headers=auth(OHS))
        assert busy.status_code == 503 and "busy" in busy.json()["detail"]
        assert busy.headers["retry-after"]
        runner.join(120)
        assert results["slow"].status_code == 200


def test_health_answers_while_a_big_model_run_goes_on(tmp_path):
    with hub_client(tmp_path, models_api={**BIG, "timeout_s": 120}) as (client, app):
        assert client.post("/api/v1/models/rt", json=RT, headers=auth(OHS)).status_code == 200
        pool = app.state.model_pool
        results = {}
        runner = threading.Thread(target=lambda: results.update(
            big=client.post("/api/v1/models/noise-exposure", json=big_noise(), headers=auth(OHS))))
        runner.start()
        _wait(lambda: pool._busy == 1)
        health = client.get("/api/v1/health")
        overlapping = pool._busy == 1
        runner.join(180)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert overlapping, "the model run must still be going on when /health has answered"
        assert results["big"].status_code == 200


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)
