"""The fault-suite harness: real mosquitto, real hub and kiosk processes, real SQLite files.

Used by ``tests/faults/test_*.py`` and ``bench/soak.py``. It starts the parts, breaks them
(SIGKILL, full disks, a wrong clock, a cut or lossy network) and counts, from the SQLite files
themselves, what the kiosks journaled against what the hub stored:

* **lost** — a kiosk journal's exam ``event_id`` missing from the hub's ``exams`` table;
* **duplicated** — one exam (one ``exam_id``) stored more than once;
* **unexpected** — a hub exam of that kiosk that no journal holds (a forged or altered record);
* **admissions went on** — the kiosk journaled exams inside every fault window.

Records are compared by ``event_id``, never by sequence number, so the counts stay true when a
kiosk's journal is replaced and its sequence starts again.

Run as a module it is the kiosk process the tests kill::

    python -m tests.faults.harness kiosk --config kiosk.toml --interval 0.03 --telemetry-every 0.3 \
        --stop-file stop --ready-file ready --summary summary.json
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parents[2]

from edge_agent.config import KioskConfig  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from ohs_demo.broker import RunningBroker, free_port, mosquitto_binary, start_mosquitto, wait_listening  # noqa: E402
from tests.foundation.helpers import exam_body, wait_until, write_toml  # noqa: E402, F401 (wait_until: re-exported to the fault tests)

SITE = "plant-1"
PYTHON = sys.executable


class Unavailable(RuntimeError):
    """A fault cannot be produced on this machine (not root, tool missing); tests turn it into a skip."""


def skip_unavailable(call: Callable, *args, **kwargs):
    """Run a call that produces a fault; in a test, skip (with the reason) when it cannot be produced here."""
    try:
        return call(*args, **kwargs)
    except Unavailable as error:
        import pytest

        pytest.skip(str(error))


def say(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def seed_from_env(name: str = "OHS_FAULT_SEED") -> int:
    """The RNG seed: $OHS_FAULT_SEED when set, else a fresh one; printed so a run can be repeated."""
    value = os.environ.get(name)
    seed = int(value) if value else random.SystemRandom().randrange(1, 2**31)
    say(f"fault seed {seed} (repeat with {name}={seed})")
    return seed


def eventually(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Like wait_until, but returns False instead of raising (the caller asserts with its own message)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------- configs


def hub_config(workdir: Path, mqtt_host: str, mqtt_port: int, *, db_path: Path | None = None,
               api_port: int | None = None, anonymous_role: str | None = "ohs", **ingest) -> HubConfig:
    data = {
        "name": "fault-hub",
        "mqtt": {"host": mqtt_host, "port": mqtt_port, "keepalive_s": 5, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 1.0},
        "storage": {"path": str(db_path or workdir / "hub" / "hub.db")},
        "api": {"port": api_port or free_port(), **({"anonymous_role": anonymous_role} if anonymous_role else {})},
    }
    if ingest:
        data["ingest"] = ingest
    return HubConfig.model_validate(data)


def kiosk_config(workdir: Path, kiosk: str, mqtt_host: str, mqtt_port: int, *, journal_path: Path | None = None,
                 signing_key: Path | None = None, outbox: dict | None = None, watchdog: dict | None = None,
                 journal: dict | None = None, keepalive_s: int = 5) -> KioskConfig:
    return KioskConfig.model_validate({
        "identity": {"site": SITE, "kiosk": kiosk,
                     "signing_key": str(signing_key or workdir / kiosk / "signing-key.pem")},
        "mqtt": {"host": mqtt_host, "port": mqtt_port, "keepalive_s": keepalive_s, "reconnect_min_s": 0.2,
                 "reconnect_max_s": 1.0},
        "journal": {"path": str(journal_path or workdir / kiosk / "journal.db"), **(journal or {})},
        "outbox": {"resend_after_s": 3, "backlog_rate_per_s": 500, **(outbox or {})},
        "watchdog": {"status_every_s": 2, "stuck_after_s": 10, "offline_restart_after_s": 20, **(watchdog or {})},
    })


# --------------------------------------------------------------------------- bodies


def telemetry_body(kiosk: str, readings: int = 1, value: float = 78.5, raw_bytes: int = 0) -> dict:
    """A telemetry batch; ``raw_bytes`` pads each reading with a raw-samples field (bodies accept extra
    fields) to make big batches that fill a disk fast."""
    now = utc_now().isoformat()
    raw = {"raw": "0123456789abcdef" * (raw_bytes // 16)} if raw_bytes else {}
    return {"readings": [{"sensor_id": f"{kiosk}-noise-{i}", "zone": "shop-1", "ts": now,
                          "values": {"noise_dba": value + (i % 7) / 10}, **raw} for i in range(readings)]}


def find_counter(agent, name: str) -> int | None:
    """A kiosk counter wherever the agent keeps it (status counters, journal or uplink counters)."""
    places = []
    with contextlib.suppress(Exception):
        status = agent.status()
        places += [status.get("counters") or {}, status.get("journal") or {}, status]
    places += [getattr(agent.journal, "counters", None) or {}, getattr(agent.uplink, "counters", None) or {}]
    for place in places:
        if isinstance(place, dict) and isinstance(place.get(name), int):
            return place[name]
    value = getattr(agent.journal, name, None)
    return value if isinstance(value, int) else None


@dataclass
class ProduceCounts:
    exams: int = 0
    telemetry: int = 0
    exam_errors: int = 0
    telemetry_errors: int = 0
    exam_error_sample: list = field(default_factory=list)
    telemetry_not_journaled: int = 0  # record() returned no record (shed by policy)


def produce(agent, stop: threading.Event, *, interval: float, telemetry_every: float | None,
            counts: ProduceCounts, limit: int | None = None, readings: int = 1,
            worker_prefix: str = "W") -> ProduceCounts:
    """Journal exams (and telemetry) through the real ``KioskAgent.record`` until ``stop`` is set.

    An exam that ``record`` refuses is counted and kept going: the test decides whether that is
    a failure (it is: an exam must never be refused for a fault elsewhere)."""
    next_telemetry = time.monotonic()
    kiosk = agent.config.identity.kiosk
    while not stop.is_set() and (limit is None or counts.exams + counts.exam_errors < limit):
        try:
            agent.record("exam", exam_body(f"{worker_prefix}{counts.exams % 100000:05d}"))
            counts.exams += 1
        except Exception as error:  # noqa: BLE001 - counted; the caller asserts on it
            counts.exam_errors += 1
            if len(counts.exam_error_sample) < 5:
                counts.exam_error_sample.append(f"{type(error).__name__}: {error}")
        if telemetry_every is not None and time.monotonic() >= next_telemetry:
            next_telemetry = time.monotonic() + telemetry_every
            try:
                record = agent.record("telemetry", telemetry_body(kiosk, readings))
                if record is None:
                    counts.telemetry_not_journaled += 1
                else:
                    counts.telemetry += 1
            except Exception:  # noqa: BLE001 - a telemetry refusal is counted, not fatal
                counts.telemetry_errors += 1
        if interval:
            stop.wait(interval)
    return counts


class Producer:
    """``produce`` in a background thread of this process (for in-process KioskAgents)."""

    def __init__(self, agent, *, interval: float = 0.02, telemetry_every: float | None = 0.25,
                 limit: int | None = None, readings: int = 1, worker_prefix: str = "W"):
        self.agent = agent
        self.counts = ProduceCounts()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=produce, name="fault-producer", daemon=True,
            args=(agent, self._stop),
            kwargs={"interval": interval, "telemetry_every": telemetry_every, "counts": self.counts,
                    "limit": limit, "readings": readings, "worker_prefix": worker_prefix})

    def start(self) -> "Producer":
        self._thread.start()
        return self

    def stop(self) -> ProduceCounts:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.counts

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


# --------------------------------------------------------------------------- broker


class Broker:
    """Debian's mosquitto with persistence in ``workdir``; SIGKILL and restart on the same port."""

    def __init__(self, workdir: Path, extra_conf: str = ""):
        if mosquitto_binary() is None:
            raise Unavailable("mosquitto is not installed (apt-get install -y mosquitto)")
        self.running: RunningBroker = start_mosquitto(workdir, extra_conf=extra_conf)
        self.kills = 0

    @property
    def host(self) -> str:
        return self.running.host

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def alive(self) -> bool:
        return self.running.running

    def kill(self) -> None:
        self.running.stop(signal.SIGKILL)
        self.kills += 1

    def stop(self) -> None:
        self.running.stop(signal.SIGTERM)

    def restart(self) -> None:
        for attempt in range(50):  # the port can take a moment to come free after SIGKILL
            try:
                self.running.restart()
                return
            except (RuntimeError, TimeoutError):
                self.running.stop(signal.SIGKILL)  # never leave a half-started broker behind
                if attempt == 49:
                    raise
                time.sleep(0.2)


# --------------------------------------------------------------------------- hub process


class HubProcess:
    """``python -m hub.cli run --config hub.toml`` with its output in ``workdir/hub.log``."""

    def __init__(self, workdir: Path, config: HubConfig):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.toml = write_toml(self.workdir / "hub.toml", config)
        self.log_path = self.workdir / "hub.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0

    @property
    def db_path(self) -> Path:
        return Path(self.config.storage.path)

    @property
    def url(self) -> str:
        return f"http://{self.config.api.host}:{self.config.api.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = 40.0) -> "HubProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([PYTHON, "-m", "hub.cli", "run", "--config", str(self.toml)],
                                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        wait_listening(self.config.api.host, self.config.api.port, timeout=timeout, process=self.process)
        return self

    restart = start

    def kill(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def get(self, path: str, timeout: float = 5.0) -> dict:
        import httpx

        response = httpx.get(f"{self.url}{path}", timeout=timeout)
        response.raise_for_status()
        return response.json()

    def health(self, timeout: float = 5.0) -> dict:
        return self.get("/api/v1/health", timeout)

    def kiosk_status(self, kiosk: str) -> dict | None:
        for item in self.get("/api/v1/kiosks")["items"]:
            if item["kiosk"] == kiosk:
                return item
        return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- kiosk process


class KioskProcess:
    """A real kiosk process (this module's ``kiosk`` command: the real KioskAgent fed with exams).

    ``prefix`` wraps the command (``ip netns exec NS``); ``env`` adds variables (libfaketime)."""

    def __init__(self, workdir: Path, config: KioskConfig, *, interval: float = 0.05,
                 telemetry_every: float | None = 0.5, prefix: Iterable[str] = (), env: dict | None = None,
                 drain_timeout: float = 60.0, name: str | None = None):
        self.name = name or config.identity.kiosk
        self.workdir = Path(workdir) / f"{self.name}-proc"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.toml = write_toml(self.workdir / "kiosk.toml", config)
        self.stop_file = self.workdir / "stop"
        self.ready_file = self.workdir / "ready"
        self.summary_file = self.workdir / "summary.json"
        self.log_path = self.workdir / "kiosk.log"
        self.interval = interval
        self.telemetry_every = telemetry_every
        self.prefix = list(prefix)
        self.env = env or {}
        self.drain_timeout = drain_timeout
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0

    @property
    def journal_path(self) -> Path:
        return Path(self.config.journal.path)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> "KioskProcess":
        for path in (self.stop_file, self.ready_file, self.summary_file):
            path.unlink(missing_ok=True)
        argv = [*self.prefix, PYTHON, "-m", "tests.faults.harness", "kiosk", "--config", str(self.toml),
                "--interval", str(self.interval), "--stop-file", str(self.stop_file),
                "--ready-file", str(self.ready_file), "--summary", str(self.summary_file),
                "--drain-timeout", str(self.drain_timeout)]
        if self.telemetry_every is not None:
            argv += ["--telemetry-every", str(self.telemetry_every)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env})
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"kiosk process exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"kiosk process not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    restart = start

    def kill(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def finish(self, timeout: float | None = None) -> dict:
        """Ask the kiosk to stop making exams, let it drain its outbox, and read its summary."""
        self.stop_file.touch()
        try:
            self.process.wait(timeout=timeout or self.drain_timeout + 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            return json.loads(self.summary_file.read_text())
        except (OSError, ValueError):
            return {"exit_code": self.process.returncode, "summary": None}

    def terminate(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _kiosk_main(argv: list[str]) -> int:
    """The kiosk process: the real KioskAgent journaling exams until the stop file appears."""
    import logging

    from edge_agent.agent import KioskAgent
    from edge_agent.config import load_kiosk_config

    parser = argparse.ArgumentParser(prog="python -m tests.faults.harness kiosk")
    parser.add_argument("--config", required=True)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--telemetry-every", type=float, default=None)
    parser.add_argument("--readings", type=int, default=1)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if os.environ.get("FAKETIME"):
        # libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC makes clock_nanosleep(CLOCK_MONOTONIC,
        # TIMER_ABSTIME) fail with EINVAL, and Python >= 3.11 sleeps with exactly that call; lock and
        # condition timeouts are unaffected, so sleeping waits on an Event instead (paho sleeps too).
        _never = threading.Event()
        time.sleep = lambda seconds: _never.wait(max(0.0, seconds))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = load_kiosk_config(args.config)
    agent = KioskAgent(config).start()
    Path(args.ready_file).touch()
    stop_file = Path(args.stop_file)

    def watch_stop_file() -> None:
        while not stop.is_set():
            if stop_file.exists():
                stop.set()
            time.sleep(0.05)

    threading.Thread(target=watch_stop_file, daemon=True).start()
    counts = ProduceCounts()
    depth = None
    try:
        produce(agent, stop, interval=args.interval, telemetry_every=args.telemetry_every, counts=counts,
                readings=args.readings)
        deadline = time.monotonic() + args.drain_timeout
        while agent.journal.outbox_depth() > 0 and time.monotonic() < deadline:
            threading.Event().wait(0.1)
        depth = agent.journal.outbox_depth()
        summary = {**asdict(counts), "outbox_depth": depth, "last_seq": agent.journal.last_seq(),
                   "uplink": dict(agent.uplink.counters), "clock_offset_s": agent.uplink.clock_offset_s}
        Path(args.summary).write_text(json.dumps(summary))
    finally:
        agent.stop()
    return 0 if depth == 0 else 3


class Parts:
    """Everything one scenario starts, stopped in reverse order by :meth:`close` (a test finalizer)."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self._closers: list[Callable[[], None]] = []

    def broker(self, extra_conf: str = "", name: str = "broker") -> Broker:
        broker = Broker(self.workdir / name, extra_conf=extra_conf)
        self._closers.append(broker.stop)
        return broker

    def hub(self, config: HubConfig, name: str = "hub", start: bool = True) -> HubProcess:
        hub = HubProcess(self.workdir / name, config)
        self._closers.append(hub.stop)
        return hub.start() if start else hub

    def kiosk_process(self, config: KioskConfig, start: bool = True, **kwargs) -> KioskProcess:
        kiosk = KioskProcess(self.workdir, config, **kwargs)
        self._closers.append(kiosk.terminate)
        return kiosk.start() if start else kiosk

    def agent(self, config: KioskConfig):
        """An in-process KioskAgent (the real one), stopped at the end unless stopped before."""
        from edge_agent.agent import KioskAgent

        agent = KioskAgent(config).start()
        state = {"stopped": False}
        original_stop = agent.stop

        def stop(*, graceful: bool = True) -> None:
            if not state["stopped"]:
                state["stopped"] = True
                original_stop(graceful=graceful)

        agent.stop = stop
        self._closers.append(stop)
        return agent

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception as error:  # noqa: BLE001 - cleanup goes on
                say(f"cleanup: {type(error).__name__}: {error}")


# --------------------------------------------------------------------------- reading the databases


def ro_rows(path: Path | str, sql: str, params: Iterable = ()) -> list[tuple]:
    """Rows from an SQLite file opened read-only (safe while its writer runs; WAL readers do not block)."""
    for attempt in range(20):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError as error:  # a schema change racing us, a busy checkpoint
            if attempt == 19 or "no such" in str(error):
                raise
            time.sleep(0.1)
    return []


def table_exists(path: Path | str, name: str) -> bool:
    return bool(ro_rows(path, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def journal_rows(path: Path | str, kind: str | None = None) -> list[dict]:
    """Journal rows (seq, event_id, kind, created_at, exam_id, acked) in sequence order."""
    where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
    rows = ro_rows(path, f"SELECT seq, event_id, kind, created_at, body, acked_at FROM journal {where} ORDER BY seq",
                   params)
    out = []
    for seq, event_id, row_kind, created_at, body, acked_at in rows:
        exam_id = json.loads(body).get("exam_id") if row_kind == "exam" else None
        out.append({"seq": seq, "event_id": event_id, "kind": row_kind, "created_at": created_at,
                    "exam_id": exam_id, "acked": acked_at is not None})
    return out


def journal_outbox(path: Path | str) -> int:
    return ro_rows(path, "SELECT count(*) FROM journal WHERE acked_at IS NULL")[0][0]


def hub_exams(hub_db: Path | str, kiosk: str, site: str = SITE) -> list[dict]:
    rows = ro_rows(hub_db, "SELECT event_id, exam_id, seq, historical, kiosk_ts, received_at, worker_id, outcome "
                           "FROM exams WHERE site = ? AND kiosk = ? ORDER BY received_at", (site, kiosk))
    names = ("event_id", "exam_id", "seq", "historical", "kiosk_ts", "received_at", "worker_id", "outcome")
    return [dict(zip(names, row, strict=True)) for row in rows]


def hub_exam_count(hub_db: Path | str, kiosk: str | None = None, site: str = SITE) -> int:
    if not Path(hub_db).exists():
        return 0
    if kiosk is None:
        return ro_rows(hub_db, "SELECT count(*) FROM exams")[0][0]
    return ro_rows(hub_db, "SELECT count(*) FROM exams WHERE site = ? AND kiosk = ?", (site, kiosk))[0][0]


def hub_received_ids(hub_db: Path | str, kiosk: str, kind: str, site: str = SITE) -> list[str]:
    return [r[0] for r in ro_rows(hub_db, "SELECT event_id FROM received WHERE site = ? AND kiosk = ? AND kind = ?",
                                  (site, kiosk, kind))]


def dead_letter_count(hub_db: Path | str) -> int:
    """Messages dead-lettered so far: the per-category totals when the hub keeps them (they survive the
    rotation of old dead-letter rows), else the rows of ``dead_letters``."""
    if not Path(hub_db).exists():
        return 0
    if table_exists(hub_db, "dead_letter_totals"):
        return ro_rows(hub_db, "SELECT coalesce(sum(messages), 0) FROM dead_letter_totals")[0][0]
    return ro_rows(hub_db, "SELECT count(*) FROM dead_letters")[0][0]


FLAG_TABLES = ("dead_letters", "conflicts")


def flagged_rows(hub_db: Path | str) -> list[dict]:
    """Rows of every table where the hub flags a message it refused — dead letters, conflicts, any
    quarantine table: (table, reason, payload as text)."""
    out = []
    tables = [r[0] for r in ro_rows(hub_db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table not in FLAG_TABLES and "quarantine" not in table:
            continue
        columns = [r[1] for r in ro_rows(hub_db, f"PRAGMA table_info({table})")]
        reason_col = "reason" if "reason" in columns else None
        payload_cols = [c for c in columns if c in ("payload", "body", "envelope", "event_id")]
        select = ", ".join([reason_col or "NULL"] + (payload_cols or ["NULL"]))
        for row in ro_rows(hub_db, f"SELECT {select} FROM {table}"):
            text = " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                            for v in row[1:] if v is not None)
            out.append({"table": table, "reason": row[0], "payload": text})
    return out


# --------------------------------------------------------------------------- counting


@dataclass
class Tally:
    """The counts every scenario writes to artifacts/faults/<name>.json."""

    sent: int
    stored: int
    lost: int
    duplicated: int
    unexpected: int
    dead_lettered: int
    telemetry_sent: int = 0
    telemetry_stored: int = 0
    telemetry_lost: int = 0
    telemetry_duplicated: int = 0
    outbox_depth: int | None = None
    lost_sample: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def tally(hub_db: Path | str, kiosk: str, sent_exams: list[dict], *, sent_telemetry: list[dict] | None = None,
          outbox_depth: int | None = None, site: str = SITE) -> Tally:
    """Compare what the kiosk journaled (``journal_rows`` of one or more journals) with the hub, by event id."""
    hub = hub_exams(hub_db, kiosk, site) if Path(hub_db).exists() else []
    hub_ids = [row["event_id"] for row in hub]
    sent_ids = [row["event_id"] for row in sent_exams]
    hub_set, sent_set = set(hub_ids), set(sent_ids)
    lost = [i for i in sent_ids if i not in hub_set]
    exam_ids = [row["exam_id"] for row in hub]
    duplicated = (len(hub_ids) - len(hub_set)) + (len(exam_ids) - len(set(exam_ids)))
    received = hub_received_ids(hub_db, kiosk, "exam", site) if Path(hub_db).exists() else []
    duplicated += len(received) - len(set(received))
    result = Tally(sent=len(sent_ids), stored=len(sent_set & hub_set), lost=len(lost), duplicated=duplicated,
                   unexpected=len(hub_set - sent_set), dead_lettered=dead_letter_count(hub_db),
                   outbox_depth=outbox_depth, lost_sample=lost[:5])
    if sent_telemetry is not None:
        stored_t = hub_received_ids(hub_db, kiosk, "telemetry", site) if Path(hub_db).exists() else []
        stored_set = set(stored_t)
        sent_t = [row["event_id"] for row in sent_telemetry]
        result.telemetry_sent = len(sent_t)
        result.telemetry_stored = len(set(sent_t) & stored_set)
        result.telemetry_lost = len([i for i in sent_t if i not in stored_set])
        result.telemetry_duplicated = len(stored_t) - len(stored_set)
    return result


def assert_exactly_once(result: Tally, *, telemetry: bool = True) -> None:
    assert result.lost == 0, (f"{result.lost} of {result.sent} journaled exams never reached the hub "
                              f"(first event ids: {result.lost_sample})")
    assert result.duplicated == 0, f"{result.duplicated} exams stored more than once"
    assert result.unexpected == 0, f"the hub holds {result.unexpected} exams of this kiosk that no journal holds"
    assert result.stored == result.sent
    if telemetry:
        assert result.telemetry_lost == 0, f"{result.telemetry_lost} of {result.telemetry_sent} telemetry records lost"
        assert result.telemetry_duplicated == 0, f"{result.telemetry_duplicated} telemetry records stored twice"


@dataclass
class FaultWindow:
    what: str
    start: datetime
    end: datetime | None = None

    @property
    def seconds(self) -> float:
        return ((self.end or utc_now()) - self.start).total_seconds()

    def as_dict(self) -> dict:
        return {"what": self.what, "start": self.start.isoformat(),
                "end": self.end.isoformat() if self.end else None, "seconds": round(self.seconds, 2)}


def exams_within(exams: list[dict], window: FaultWindow, clock_shift_s: float = 0.0) -> int:
    """Exams journaled (by the kiosk's ``created_at``) inside a fault window."""
    count = 0
    for row in exams:
        created = datetime.fromisoformat(row["created_at"]).timestamp() - clock_shift_s
        if window.start.timestamp() <= created <= (window.end or utc_now()).timestamp():
            count += 1
    return count


def assert_admissions_went_on(exams: list[dict], windows: Iterable[FaultWindow], *, min_seconds: float = 0.5,
                              clock_shift_s: float = 0.0) -> dict[str, int]:
    """Every fault window long enough to matter saw the kiosk journal at least one exam."""
    seen = {}
    for window in windows:
        if window.seconds < min_seconds:
            continue
        n = exams_within(exams, window, clock_shift_s)
        seen[f"{window.what}@{window.start.strftime('%H:%M:%S.%f')[:-3]}"] = n
        assert n > 0, f"the kiosk journaled no exam during '{window.what}' ({window.seconds:.1f} s): admissions stopped"
    return seen


def write_artifact(artifacts_dir: Path, name: str, data: dict) -> Path:
    """artifacts/faults/<name>.json — written before the assertions, so failing runs leave their figures too."""
    out = Path(artifacts_dir) / "faults"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"scenario": name, "written_at": utc_now().isoformat(), **data}, indent=2,
                               default=str) + "\n")
    return path


# --------------------------------------------------------------------------- chaos (random SIGKILLs)


@dataclass
class Target:
    """Something chaos may kill: ``kill()`` then, after a pause, ``restart()``."""

    name: str
    kill: Callable[[], None]
    restart: Callable[[], None]


def chaos(rng: random.Random, targets: list[Target], duration_s: float, *, gap_s: tuple[float, float] = (1.5, 4.0),
          down_s: tuple[float, float] = (0.2, 2.0), on_event: Callable[[FaultWindow], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> list[FaultWindow]:
    """SIGKILL targets at random moments for ``duration_s``, restarting each after a random pause.

    The first kills go through every target once (in a random order), so each is hit at least
    once; after that the victim is drawn at random. Returns the fault windows (kill to restart)."""
    windows: list[FaultWindow] = []
    order = list(targets)
    rng.shuffle(order)
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline and not (should_stop and should_stop()):
        time.sleep(min(rng.uniform(*gap_s), max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            break
        target = order.pop(0) if order else rng.choice(targets)
        pause = rng.uniform(*down_s)
        window = FaultWindow(f"kill -9 {target.name}", utc_now())
        target.kill()
        time.sleep(pause)
        target.restart()
        window.end = utc_now()
        windows.append(window)
        say(f"killed {target.name}, restarted after {window.seconds:.1f} s")
        if on_event:
            on_event(window)
    return windows


# --------------------------------------------------------------------------- root-only faults


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable(f"{what} needs root (running as uid {os.geteuid()})")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` for the duration (root only); unmounted afterwards."""
    require_root("mounting a tmpfs")
    if shutil.which("mount") is None:
        raise Unavailable("mount(8) is not available")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Unavailable(f"cannot mount a tmpfs at {path}: {done.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill_disk(directory: Path, leave_bytes: int = 0, name: str = "filler.bin") -> Path:
    """Write a filler file until at most ``leave_bytes`` stay free on ``directory``'s file system."""
    filler = Path(directory) / name
    chunk = b"\0" * (64 * 1024)
    with open(filler, "ab", buffering=0) as handle:
        while True:
            room = free_bytes(directory) - leave_bytes
            if room <= 0:
                break
            try:
                handle.write(chunk[: min(len(chunk), room)])
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    break
                raise
    return filler


class Partition:
    """A kiosk behind its own network namespace, linked to the root namespace by a veth pair.

    Addresses are 127.77.N.1 (root side, where the broker gets an extra listener) and
    127.77.N.2 (the kiosk's side): loopback-range addresses on our own veth, routed with
    ``route_localnet`` and a /30 route in each side's local table, so no traffic can leave the
    machine. The faults are nftables rules inside the kiosk's namespace only: ``cut`` drops
    everything to and from the broker, ``loss(p)`` drops p % of packets in each direction at
    random (``numgen random mod 100 < p``). ``teardown`` deletes the veth (and with it the
    routes) and the namespace."""

    def __init__(self, tag: str | None = None):
        require_root("a network namespace")
        for tool in ("ip", "nft"):
            if shutil.which(tool) is None:
                raise Unavailable(f"'{tool}' is not installed (iproute2 / nftables)")
        tag = tag or f"{os.getpid() % 100000}"
        self.ns = f"ohsf{tag}"
        self.host_if = f"ohsh{tag}"[:15]
        self.kiosk_if = f"ohsk{tag}"[:15]
        used = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=False).stdout
        free = [n for n in range(1, 255) if f"127.77.{n}." not in used]
        if not free:
            raise Unavailable("no free 127.77.N.0/30 block for the veth pair")
        block = random.choice(free)
        self.host_addr = f"127.77.{block}.1"
        self.kiosk_addr = f"127.77.{block}.2"
        self.net = f"127.77.{block}.0/30"
        self.state = "down"

    def _run(self, *argv: str, ns: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        full = (["ip", "netns", "exec", self.ns] if ns else []) + list(argv)
        done = subprocess.run(full, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(full)}: {done.stderr.strip()}")
        return done

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns]

    def setup(self) -> "Partition":
        try:
            self._run("ip", "netns", "add", self.ns)
        except RuntimeError as error:
            raise Unavailable(f"cannot create a network namespace: {error}") from None
        try:
            self._run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.kiosk_if)
            self._run("ip", "link", "set", self.kiosk_if, "netns", self.ns)
            self._run("ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
            self._run("sysctl", "-qw", f"net.ipv4.conf.{self.host_if}.route_localnet=1")
            self._run("ip", "link", "set", self.host_if, "up")
            self._run("ip", "route", "add", self.net, "dev", self.host_if, "table", "local", "src", self.host_addr)
            self._run("ip", "link", "set", "lo", "up", ns=True)
            self._run("ip", "addr", "add", f"{self.kiosk_addr}/30", "dev", self.kiosk_if, ns=True)
            self._run("sysctl", "-qw", f"net.ipv4.conf.{self.kiosk_if}.route_localnet=1", ns=True)
            self._run("ip", "link", "set", self.kiosk_if, "up", ns=True)
            self._run("ip", "route", "add", self.net, "dev", self.kiosk_if, "table", "local", "src", self.kiosk_addr,
                      ns=True)
            self._run("nft", "add table inet ohsfault", ns=True)
            self._run("nft", "add chain inet ohsfault out { type filter hook output priority 0 ; policy accept ; }",
                      ns=True)
            self._run("nft", "add chain inet ohsfault in { type filter hook input priority 0 ; policy accept ; }",
                      ns=True)
        except Exception:
            self.teardown()
            raise
        self.state = "healthy"
        return self

    def _rules(self, rule: str | None) -> None:
        self._run("nft", "flush chain inet ohsfault out", ns=True)
        self._run("nft", "flush chain inet ohsfault in", ns=True)
        if rule is not None:
            self._run("nft", f"add rule inet ohsfault out ip daddr {self.host_addr} {rule}", ns=True)
            self._run("nft", f"add rule inet ohsfault in ip saddr {self.host_addr} {rule}", ns=True)

    def cut(self) -> None:
        self._rules("drop")
        self.state = "cut"

    def loss(self, percent: int) -> None:
        if not 0 < percent < 100:
            raise ValueError("loss percent must be in 1..99")
        self._rules(f"numgen random mod 100 < {percent} drop")
        self.state = f"loss {percent}%"

    def heal(self) -> None:
        self._rules(None)
        self.state = "healthy"

    def ruleset(self) -> str:
        return self._run("nft", "list ruleset", ns=True, check=False).stdout

    def teardown(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        pids = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True,
                              check=False).stdout.split()
        for pid in pids:  # only processes inside our own namespace
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, check=False)
        self.state = "down"


def faketime_env(offset: str) -> dict:
    """Environment that runs a process under libfaketime with its clock shifted (e.g. '+1d', '-1d').

    Only the wall clock moves; monotonic time stays real (timeouts, paho's keep-alive)."""
    for lib in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"):
        if os.path.exists(lib):
            return {"LD_PRELOAD": lib, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    raise Unavailable("libfaketime is not installed (Debian package 'faketime')")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "kiosk":
        sys.exit(_kiosk_main(sys.argv[2:]))
    print("usage: python -m tests.faults.harness kiosk --config kiosk.toml ...", file=sys.stderr)
    sys.exit(2)
