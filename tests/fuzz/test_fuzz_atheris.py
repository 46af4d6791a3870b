"""The coverage-guided fuzzer (bench/fuzz_ingest.py, atheris) runs, short, in a subprocess and
exits 0: it executed the inputs asked for and met no crash. The long run is manual (see the
script's docstring)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris (dev extra) has wheels for CPython 3.11 on x86-64 only")

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "fuzz_ingest.py"


@pytest.mark.parametrize("target", ["ingest", "decoders"])
def test_fuzzer_short_run(target, tmp_path):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), f"--target={target}", "-runs=2000", "-seed=1", f"--crashes={tmp_path / 'out'}"],
        capture_output=True, text=True, timeout=180,
    )
    assert run.stdout.strip(), run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, json.dumps(summary["crash_list"], ensure_ascii=False, indent=1)[:4000]
    assert summary["inputs"] >= 2000 and summary["crashes"] == 0
    assert summary["coverage"] and summary["coverage"] > 50, "atheris reported no coverage: instrumentation off?"
