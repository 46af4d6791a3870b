"""Shared helpers for the admission tests (module name unique: tests/ has no __init__.py)."""

from __future__ import annotations

from typing import Any

from edge_agent.admission import decide, load_rule_set

RULES = load_rule_set()

#: K1's normal values (reference §1.8): used for every quantity a vector does not mention.
NORMAL: dict[str, Any] = {
    "systolic_mmhg": 128,
    "diastolic_mmhg": 82,
    "pulse_bpm": 72,
    "temperature_c": 36.6,
    "brac_mg_l": 0.0,
}


#: What makes an individual norm applicable (issue 13, error 4): a stated count and a physician's approval.
APPROVED: dict[str, Any] = {"n_readings": 12, "approved_by": "Иванова А. П., врач-терапевт", "approved_on": "2026-11-02"}


def first(**overrides: Any) -> dict[str, Any]:
    """The first attempt (minute 0): K1 normals, overridden; a value of ... drops the field."""
    a = {"minute": 0, **NORMAL, **overrides}
    return {k: v for k, v in a.items() if v is not ...}


def at(minute: float, **values: Any) -> dict[str, Any]:
    return {"minute": minute, **values}


def exam(*attempts: dict[str, Any], exam_type: str = "pre_shift", **extra: Any) -> dict[str, Any]:
    return {"exam_type": exam_type, "attempts": list(attempts), **extra}


def run(*attempts: dict[str, Any], rules=None, **extra: Any):
    return decide(exam(*attempts, **extra), rules or RULES)


def rules_fired(d) -> list[str]:
    return [f.rule for f in d.fired]


def bp(s: float, dia: float) -> dict[str, float]:
    return {"systolic_mmhg": s, "diastolic_mmhg": dia}
