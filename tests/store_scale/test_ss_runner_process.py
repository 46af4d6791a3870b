"""The analytics runner computes in its own process on the SQLite file; the hub's process only writes
the results, so the ingest commits while a pass computes and the store lock stays free."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest

from hub.analytics import AnalyticsRunner, AnalyticsSettings, read_result
from hub.store import Store
from tests.foundation.helpers import wait_until
from tests.store_scale.ss_helpers import T0, bulk_noise, commit_exams


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "hub.db", synchronous="FULL")
    yield s
    s.close()


def test_the_runner_process_computes_while_the_ingest_commits(store):
    # a month of one-minute noise values in 8 zones: the zone analyses take seconds to compute
    bulk_noise(store, tuple(f"zone-{i}" for i in range(8)), T0 - timedelta(days=30), 30 * 24 * 60)
    runner = AnalyticsRunner(store, AnalyticsSettings(enabled=False))
    summary: dict = {}
    worker = threading.Thread(target=lambda: summary.update(runner.run_once()))
    began = time.monotonic()
    worker.start()
    wait_until(lambda: runner.worker_pid is not None, timeout=30, message="the analytics process")
    assert runner.worker_pid != os.getpid()
    commits, lock_waits, seq = [], [], 0
    while worker.is_alive():
        seq += 1
        t = time.monotonic()
        assert store.lock.acquire(timeout=10)
        store.lock.release()
        lock_waits.append(time.monotonic() - t)
        t = time.monotonic()
        commit_exams(store, [seq], kiosk="kiosk-ingest")
        commits.append(time.monotonic() - t)
        time.sleep(0.01)
    pass_s = time.monotonic() - began
    worker.join()
    try:
        assert all(a["ok"] for a in summary["analyses"].values()), summary
        assert summary["analyses"]["noise-zones"]["duration_s"] > 0.5, "the pass must be long enough to observe"
        assert len(commits) >= 20, f"only {len(commits)} commits in a {pass_s:.1f} s pass"
        assert max(commits) < 0.5, f"a commit waited {max(commits):.2f} s during the pass"
        assert max(lock_waits) < 0.5, f"the store lock was held {max(lock_waits):.2f} s during the pass"
        zones = read_result(store, "noise-zones")["result"]["zones"]
        assert len(zones) == 8, "the results written by the hub's process are the process's results"
        assert store.scalar("SELECT count(*) FROM exams WHERE kiosk = 'kiosk-ingest'") == len(commits)
    finally:
        runner.stop()
    assert runner.worker_pid is None, "stop ends the analytics process"


def test_a_dead_analytics_process_is_reported_and_replaced(store):
    commit_exams(store, range(1, 4))
    runner = AnalyticsRunner(store, AnalyticsSettings(enabled=False))
    try:
        first = runner.run_once()
        assert all(a["ok"] for a in first["analyses"].values()), first
        pid = runner.worker_pid
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: runner.worker_pid is None, timeout=10, message="the process to die")
        again = runner.run_once()
        assert all(a["ok"] for a in again["analyses"].values()), again
        assert runner.worker_pid not in (None, pid), "a new process computes the next pass"
        assert not runner.errors
    finally:
        runner.stop()


def test_results_match_an_in_process_computation(store):
    from hub.analytics import compute

    bulk_noise(store, ("press", "office"), T0 - timedelta(days=2), 2 * 24 * 60)
    commit_exams(store, range(1, 6))
    settings = AnalyticsSettings(enabled=False)
    runner = AnalyticsRunner(store, settings)
    try:
        summary = runner.run_once()
    finally:
        runner.stop()
    for name in summary["analyses"]:
        assert read_result(store, name)["result"] == compute(store, settings, name, {}), name
