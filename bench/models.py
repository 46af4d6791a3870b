"""Benchmark of the risk models (issue 6): target under 2 s each on the build machine.

Run: ``.venv/bin/python bench/models.py [--workers N] [--rows N] [--repeat K]``

Prints, best of K runs:

1. risk groups + 0-24 scores for N workers (default 100,000), vectorised core
   (``hub.models.risk_group.aggregate_groups`` on arrays of per-criterion groups);
2. the same workers through the JSON interface (``run_model("risk-group-report", ...)``:
   pydantic validation of every worker, aggregation, the yearly report), once in the row
   form (one object per worker) and once in the columnar form (one list per field);
3. ranking a register of M rows (default 10,000) through ``run_model("risk-register", ...)``
   (validation, scores, matrix verdicts, residual risk, ranking, the full JSON rows);
4. for reference, SCORE2/SCORE2-OP for N workers, vectorised (``score2_array``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.models.registry import run_model  # noqa: E402
from hub.models.risk_group import aggregate_groups  # noqa: E402
from hub.models.score2 import score2_array  # noqa: E402

TARGET_S = 2.0


def best_of(repeat: int, function) -> tuple[float, object]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_workers(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    groups = rng.integers(1, 6, size=(n, 6))
    c7 = rng.random(n) < 0.5
    c8 = rng.random(n) < 0.5
    return groups, c7, c8


def workers_payload(groups: np.ndarray, c7: np.ndarray, c8: np.ndarray) -> dict:
    names = ("c1", "c2", "c3", "c4", "c5", "c6")
    assessments = []
    for i, row in enumerate(groups.tolist()):
        criteria = dict(zip(names, row, strict=True))
        criteria["c7"] = bool(c7[i])
        criteria["c8"] = bool(c8[i])
        assessments.append({"worker_id": f"w{i}", "year": 2024 + (i % 3), "exam": "periodic" if i % 10 else "preliminary", "criteria": criteria})
    return {"assessments": assessments}


def columns_payload(groups: np.ndarray, c7: np.ndarray, c8: np.ndarray) -> dict:
    n = groups.shape[0]
    columns = {name: groups[:, k].tolist() for k, name in enumerate(("c1", "c2", "c3", "c4", "c5", "c6"))}
    columns.update(
        c7=c7.tolist(),
        c8=c8.tolist(),
        year=[2024 + (i % 3) for i in range(n)],
        worker_id=[f"w{i}" for i in range(n)],
        exam=["periodic" if i % 10 else "preliminary" for i in range(n)],
    )
    return {"columns": columns}


def register_payload(m: int, rng: np.random.Generator) -> dict:
    controls = ["elimination", "substitution", "engineering", "administrative", "ppe"]
    rows = []
    values = rng.integers(1, 6, size=(m, 8))
    for i in range(m):
        v = values[i].tolist()
        rows.append(
            {
                "code": f"R{i}",
                "owner": f"shop {i % 17}",
                "factor": "factor",
                "hazard": "hazard",
                "hazard_level": v[0],
                "exposure_duration": v[1],
                "exposure_frequency": v[2],
                "probability": v[3],
                "measures": [{"text": "measure", "control": controls[v[4] - 1], "deadline": "2026-03-01"}],
                "residual": {
                    "hazard_level": max(1, v[0] - 1),
                    "exposure_duration": v[5],
                    "exposure_frequency": v[6],
                    "probability": max(1, v[3] - 1),
                },
            }
        )
    return {"rows": rows, "as_of": "2026-06-01"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20260305)

    groups, c7, c8 = make_workers(args.workers, rng)
    aggregate_groups(groups[:10], c7[:10], c8[:10])  # warm-up: config load
    t_core, out = best_of(args.repeat, lambda: aggregate_groups(groups, c7, c8))
    assert out["final"].min() >= 1 and out["final"].max() <= 5 and out["score"].max() <= 24

    payload = workers_payload(groups, c7, c8)
    t_json, report = best_of(args.repeat, lambda: run_model("risk-group-report", payload))
    assert sum(e["periodic"]["workers"] + e["preliminary"]["workers"] for e in report["years"].values()) == args.workers

    columnar = columns_payload(groups, c7, c8)
    t_columns, report_c = best_of(args.repeat, lambda: run_model("risk-group-report", columnar))
    assert report_c["enterprise_average_score"] == report["enterprise_average_score"]

    register = register_payload(args.rows, rng)
    t_register, ranked = best_of(args.repeat, lambda: run_model("risk-register", register))
    assert len(ranked["ranking"]) == args.rows

    sexes = np.where(rng.random(args.workers) < 0.5, "male", "female")
    ages = rng.uniform(40, 89, args.workers)
    smoker = rng.random(args.workers) < 0.3
    sbp = rng.uniform(100, 180, args.workers)
    tc = rng.uniform(3, 8, args.workers)
    hdl = rng.uniform(0.8, 2.0, args.workers)
    dm = rng.random(args.workers) < 0.1
    t_score2, risks = best_of(args.repeat, lambda: score2_array(sexes, ages, smoker, sbp, tc, hdl, dm))
    assert np.all((risks > 0) & (risks < 100))

    lines = [
        (f"risk groups + scores, {args.workers:,} workers, vectorised core", t_core),
        (f"risk groups + scores + report, {args.workers:,} workers, JSON rows via run_model", t_json),
        (f"risk groups + scores + report, {args.workers:,} workers, JSON columns via run_model", t_columns),
        (f"risk register ranking, {args.rows:,} rows, JSON via run_model", t_register),
        (f"SCORE2/SCORE2-OP, {args.workers:,} workers, vectorised (reference)", t_score2),
    ]
    print(f"best of {args.repeat} runs; target < {TARGET_S:.0f} s each")
    failed = False
    for label, seconds in lines:
        verdict = "ok" if seconds < TARGET_S else "OVER TARGET"
        failed |= seconds >= TARGET_S
        print(f"{label:<78} {seconds:8.3f} s  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
