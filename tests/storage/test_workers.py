"""Several hub workers on one PostgreSQL (issue 11): three ``ohs-hub run --ingest-only --worker K``
processes share the records through an MQTT v5 shared subscription on a real mosquitto; workers are
killed with SIGKILL at random while three kiosks publish, and restarted. Every record is stored exactly
once and acknowledged (every kiosk's outbox empties), because each ack is computed from the store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.agent import KioskAgent
from hub.db import telemetry_points
from hub.store import Store
from tests.faults.harness import telemetry_body
from tests.foundation.helpers import exam_body, kiosk_config, wait_until

ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("OHS_FAULT_SEED", "11"))


def _worker(config: Path, index: int, logs: Path) -> subprocess.Popen:
    log = open(logs / f"worker-{index}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--ingest-only",
                             "--worker", str(index)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def _hub_toml(path: Path, broker, url: str) -> Path:
    path.write_text(f"""name = "kill-test"
[mqtt]
host = "{broker.host}"
port = {broker.port}
keepalive_s = 5
reconnect_min_s = 0.2
reconnect_max_s = 1
[storage]
url = "{url}"
path = "{path.parent / 'hub' / 'unused.db'}"
[ingest]
shared_group = "kill-test"
batch_wait_ms = 5
""")
    return path


def test_three_workers_store_every_record_once_and_ack_it_through_random_kills(tmp_path, broker, postgres_server):
    rng = random.Random(SEED)
    url = postgres_server.create_database()
    Store(url).close()  # the schema first (workers starting together also migrate, one at a time)
    config = _hub_toml(tmp_path / "hub.toml", broker, url)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = {index: _worker(config, index, logs) for index in range(3)}
    kiosks, written, kills = [], {"exam": 0, "telemetry": 0}, 0
    store = Store(url)
    try:
        wait_until(lambda: all(f"ingest worker {i}" in (logs / f"worker-{i}.log").read_text() for i in workers),
                   timeout=60, message="three workers up")
        kiosks = [KioskAgent(kiosk_config(tmp_path, broker, kiosk=f"kiosk-0{k}", resend_after_s=2)).start()
                  for k in (1, 2, 3)]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for n, kiosk in enumerate(kiosks):
                kiosk.record("exam", exam_body(f"W{n}{written['exam']:05d}"))
                kiosk.record("telemetry", telemetry_body(kiosk.config.identity.kiosk, readings=3))
                written["exam"] += 1
                written["telemetry"] += 1
            if rng.random() < 0.15:  # SIGKILL one worker now and then; it comes back after a pause
                victim = rng.choice(sorted(workers))
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
                time.sleep(rng.uniform(0.2, 1.5))
                workers[victim] = _worker(config, victim, logs)
            time.sleep(rng.uniform(0.02, 0.15))
        assert kills >= 3, f"only {kills} kills: the test must kill workers several times"
        began = time.monotonic()
        wait_until(lambda: all(k.journal.outbox_depth() == 0 for k in kiosks), timeout=120,
                   message="every kiosk's outbox empty (every record acknowledged)")
        print(f"{kills} kills; {written}; outboxes empty {time.monotonic() - began:.1f} s after the last record")
        total = written["exam"] + written["telemetry"]
        assert store.scalar("SELECT count(*) FROM received") == total
        assert store.scalar("SELECT count(*) FROM exams") == written["exam"]
        assert store.scalar("SELECT count(DISTINCT event_id) FROM exams") == written["exam"]
        assert telemetry_points.count(store) == written["telemetry"] * 3, "telemetry stored twice"
        assert store.scalar("SELECT count(*) FROM conflicts") == 0
        assert store.scalar("SELECT count(*) FROM dead_letters") == 0
    finally:
        for kiosk in kiosks:
            kiosk.stop()
        for process in workers.values():
            process.terminate()
        for process in workers.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        store.close()
    stored = [sum(int(line.split("stored ")[1].split(",")[0]) for line in (logs / f"worker-{i}.log").read_text()
                  .splitlines() if line.startswith("ingest stopped: stored ")) for i in range(3)]
    assert sum(1 for n in stored if n) >= 2, f"the shared subscription spread no work: stored per worker {stored}"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def test_run_with_workers_starts_restarts_and_stops_them(tmp_path, broker, postgres_server):
    url = postgres_server.create_database()
    config = _hub_toml(tmp_path / "hub.toml", broker, url)
    config.write_text(config.read_text().replace('shared_group = "kill-test"\n', "") + "[api]\nport = 0\n")
    log_path = tmp_path / "hub.log"
    with open(log_path, "wb") as log:
        hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--workers", "2"],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    kiosk = None
    try:
        wait_until(lambda: "ingest worker 1" in log_path.read_text() and "dashboard and API" in log_path.read_text(),
                   timeout=90, message="worker 0 (API) and worker 1")
        kiosk = KioskAgent(kiosk_config(tmp_path, broker, resend_after_s=2)).start()
        for n in range(20):
            kiosk.record("exam", exam_body(f"W{n:05d}"))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=60, message="exams acknowledged")
        workers = [pid for pid in _children(hub.pid)
                   if b"--ingest-only" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 1, workers
        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: log_path.read_text().count("ingest worker 1 (") == 2, timeout=90,
                   message="worker 1 started again")
        for n in range(20, 40):
            kiosk.record("exam", exam_body(f"W{n:05d}"))
        wait_until(lambda: kiosk.journal.outbox_depth() == 0, timeout=60, message="later exams acknowledged")
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=60) == 0
        assert "ingest stopped: stored" in log_path.read_text()
        store = Store(url)
        try:
            assert store.scalar("SELECT count(*) FROM exams") == 40
            assert store.scalar("SELECT count(DISTINCT event_id) FROM exams") == 40
        finally:
            store.close()
    finally:
        if kiosk is not None:
            kiosk.stop()
        if hub.poll() is None:  # a failed test: its workers too, never left running
            for pid in _children(hub.pid):
                os.kill(pid, signal.SIGKILL)
            hub.kill()
            hub.wait()


def test_several_workers_on_sqlite_are_refused_clearly(tmp_path, capsys):
    from hub.cli import main

    config = tmp_path / "hub.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "hub.db"}"\n')
    assert main(["run", "--config", str(config), "--workers", "3"]) == 2
    assert "several hub workers need one shared database" in capsys.readouterr().err
