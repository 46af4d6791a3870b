"""Fatigue and stress screening at admission: scores, bands, positive screens — for the medic only.

Source: seed 002 B.3.3.5 (psychosocial risks: self-rated stress and fatigue, detectable at
admission to the shift; regular questionnaires for dangerous jobs). Instruments and cut-offs
(``configs/models/fatigue_screening.toml``, each with its citation): Karolinska Sleepiness
Scale (KSS ≥ 7), Samn-Perelli fatigue scale (≥ 5), the single-item stress measure of Elo et
al. 2003 (≥ 4), PHQ-4 (total ≥ 6; GAD-2 / PHQ-2 ≥ 3).

A positive screen informs the medic; for a job marked safety-critical it holds the worker
for the medic when ``hold_safety_critical`` (the safer reading). The screen never refuses
work by itself. The kiosk screen that asks the questions is not part of this model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.models._config import load_table
from hub.models.registry import ModelInputError, register

INSTRUMENTS = ("kss", "samn_perelli", "elo_stress", "phq4")


class FatigueScreeningInput(BaseModel):
    """Input of ``fatigue-screening``: the answers of one worker at one admission."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    answers: dict[str, int | list[int]] = Field(description="instrument -> score (PHQ-4: its four item scores)")
    safety_critical: bool = Field(default=False, description="driver or other dangerous job")


def _table() -> Mapping[str, Any]:
    return load_table("fatigue_screening")


def _band(score: int, bands: Any) -> dict[str, Any]:
    return dict(next(b for b in reversed(bands) if score >= b["from"])["label"])


def score_instrument(name: str, answer: int | list[int], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Score, band and positive screen of one instrument; ``ValueError`` for an answer out of range."""
    if name == "phq4":
        if not isinstance(answer, list) or len(answer) != spec["items"]:
            raise ValueError(f"PHQ-4 needs {spec['items']} item scores")
        if any(not 0 <= a <= spec["item_max"] for a in answer):
            raise ValueError(f"each PHQ-4 item is 0-{spec['item_max']}")
        total = sum(answer)
        gad2, phq2 = answer[0] + answer[1], answer[2] + answer[3]
        cut = spec["subscale_positive_at_or_above"]
        return {"instrument": spec["name"], "score": total, "band": _band(total, spec["bands"]),
                "positive": total >= spec["positive_at_or_above"] or gad2 >= cut or phq2 >= cut,
                "gad2": gad2, "phq2": phq2, "cut_off": spec["positive_at_or_above"], "source": spec["source"]}
    if isinstance(answer, list) or not spec["min"] <= answer <= spec["max"]:
        raise ValueError(f"{spec['name']} is scored {spec['min']}-{spec['max']}")
    return {"instrument": spec["name"], "score": answer, "band": _band(answer, spec["bands"]),
            "positive": answer >= spec["positive_at_or_above"], "cut_off": spec["positive_at_or_above"],
            "source": spec["source"]}


@register("fatigue-screening", FatigueScreeningInput)
def fatigue_screening(data: FatigueScreeningInput) -> dict[str, Any]:
    """Fatigue / stress screening at admission (KSS, Samn-Perelli, Elo single item, PHQ-4): medic only."""
    table = _table()
    required = list(table["instruments"])
    missing = [name for name in required if name not in data.answers]
    if missing:
        raise ModelInputError("answers", f"missing the configured instrument(s): {', '.join(missing)}")
    results = {}
    for name, answer in data.answers.items():
        if name not in INSTRUMENTS:
            raise ModelInputError(f"answers.{name}", f"unknown instrument; known: {', '.join(INSTRUMENTS)}")
        try:
            results[name] = score_instrument(name, answer, table[name])
        except ValueError as error:
            raise ModelInputError(f"answers.{name}", str(error)) from None
    positive = [name for name, r in results.items() if r["positive"]]
    hold = bool(positive) and data.safety_critical and table["hold_safety_critical"]
    action = "needs_medic" if hold else (table["action_on_positive"] if positive else "none")
    return {
        "results": results,
        "positive": positive,
        "action": action,
        "refuses_work": False,
        "visible_to": ["medic"],
        "note": "a screening result, not a diagnosis: the medic talks to the worker; the screen never refuses work",
        "source": "seed 002 B.3.3.5; instruments in configs/models/fatigue_screening.toml",
    }
