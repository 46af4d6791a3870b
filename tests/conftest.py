"""Shared fixtures: a real mosquitto broker on a free port, hub and kiosk configs in tmp dirs.

The broker fixture needs Debian's mosquitto binary (``.ci/run`` installs it); it installs
nothing itself and fails with a clear message when the binary is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.broker import mosquitto_binary, start_mosquitto  # noqa: E402


@pytest.fixture
def broker(tmp_path):
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto (the tests need a real broker)")
    running = start_mosquitto(tmp_path / "broker")
    yield running
    running.stop()


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("OHS_ARTIFACTS", ROOT / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
