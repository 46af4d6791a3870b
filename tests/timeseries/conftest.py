"""A real VictoriaMetrics server (Debian's ``victoria-metrics``) for the time-series tests.

The fixtures install nothing: when the binary is missing they fail with the apt-get command
(``tests/run.sh`` installs it). The server listens on a free loopback port with a storage folder
under the test's tmp dir, and can be stopped and started again on the same port and data.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from ohs_demo.broker import free_port

BINARY_CANDIDATES = ("/usr/bin/victoria-metrics",)


def victoria_metrics_binary() -> str | None:
    found = shutil.which("victoria-metrics")
    if found:
        return found
    return next((path for path in BINARY_CANDIDATES if os.access(path, os.X_OK)), None)


class VictoriaMetrics:
    """One victoria-metrics process on a fixed port and data folder; start/stop at will."""

    def __init__(self, binary: str, folder: Path, host: str = "127.0.0.1"):
        self.binary = binary
        self.folder = folder
        self.host = host
        self.port = free_port(host)
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "VictoriaMetrics":
        assert self.process is None, "already running"
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"vm-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            [self.binary, f"-httpListenAddr={self.host}:{self.port}", f"-storageDataPath={self.folder / 'data'}",
             "-retentionPeriod=100y",  # readings with old timestamps are otherwise dropped silently
             "-search.latencyOffset=0s", "-memory.allowedBytes=256MB", "-loggerLevel=WARN"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited with {self.process.returncode}; see {self.folder}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise TimeoutError(f"victoria-metrics did not answer /health on {self.url} within {timeout} s")

    def stop(self) -> None:
        """Stop gracefully (SIGINT: it flushes what it accepted to disk)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: what it accepted after the last flush may be lost (its own buffering)."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ------------------------------------------------------------------ reading back

    def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=30) as answer:
            return answer.read()

    def export(self, metric: str = "ohs_telemetry_value") -> list[dict]:
        """Every stored series of ``metric`` with all its raw samples (``/api/v1/export``)."""
        self._get("/internal/force_flush")  # fresh writes become searchable now
        body = self._get("/api/v1/export", [("match[]", f'{{__name__="{metric}"}}'), ("start", "0")])
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def samples(self, metric: str = "ohs_telemetry_value") -> Counter:
        """(labels without __name__, timestamp ms, value) → how many times it is stored."""
        counted: Counter = Counter()
        for series in self.export(metric):
            labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                counted[(labels, ts, value)] += 1
        return counted

    def query(self, promql: str, at_s: float) -> list[dict]:
        body = self._get("/api/v1/query", [("query", promql), ("time", f"{at_s:.3f}")])
        return json.loads(body)["data"]["result"]


def _binary_or_fail() -> str:
    binary = victoria_metrics_binary()
    if binary is None:
        pytest.fail("victoria-metrics is not installed: apt-get install -y victoria-metrics "
                    "(the time-series tests need a real server; tests/run.sh installs it)")
    return binary


@pytest.fixture
def victoria_metrics_server(tmp_path):
    """A victoria-metrics server that is NOT started yet (tests start and stop it)."""
    server = VictoriaMetrics(_binary_or_fail(), tmp_path / "victoria-metrics")
    yield server
    server.stop()


@pytest.fixture
def victoria_metrics(victoria_metrics_server):
    """A running victoria-metrics server."""
    yield victoria_metrics_server.start()
