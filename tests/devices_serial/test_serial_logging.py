"""Libraries do not set log levels at import; the entry point does (firmware_bridges.logsetup).
pymodbus, which logs every retry as an error, is quieted there unless the process logs at DEBUG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import logging, sys
import firmware_bridges.modbus.transport  # noqa: F401
print(logging.getLogger("pymodbus").level)
if sys.argv[1] != "-":
    from firmware_bridges.logsetup import configure_logging
    configure_logging(sys.argv[1])
    print(logging.getLogger("pymodbus").level)
"""


@pytest.mark.parametrize(("level", "expected"), [("-", ["0"]), ("warning", ["0", "50"]), ("debug", ["0", "0"])])
def test_pymodbus_level_is_set_by_the_entry_point_not_at_import(level, expected):
    out = subprocess.run([sys.executable, "-c", PROBE, level], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == expected
