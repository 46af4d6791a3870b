"""Fatigue and stress screening at admission: scores, bands, positive screens — for the medic only.

Source: seed 002 B.3.3.5 (psychosocial risks: self-rated stress and fatigue, detectable at
admission to the shift; regular questionnaires for dangerous jobs). Instruments and cut-offs
(``configs/models/fatigue_screening.toml``, each with its citation): Karolinska Sleepiness
Scale (KSS ≥ 7), Samn-Perelli fatigue scale (≥ 5), the single-item stress measure of Elo et
al. 2003 (≥ 4), PHQ-4 (total ≥ 6; GAD-2 / PHQ-2 ≥ 3).

A positive screen informs the medic; for a job marked safety-critical it holds the worker
for the medic when ``hold_safety_critical`` (the safer reading). The screen never refuses
work by itself. The scoring is shared with the kiosk's screening step (``firmware_bridges.fatigue``);
this model applies it to answers sent to the hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.fatigue import INSTRUMENTS, score_instrument
from hub.models._config import load_table
from hub.models.registry import ModelInputError, register


class FatigueScreeningInput(BaseModel):
    """Input of ``fatigue-screening``: the answers of one worker at one admission."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")

    answers: dict[str, int | list[int]] = Field(description="instrument -> score (PHQ-4: its four item scores)")
    safety_critical: bool = Field(default=False, description="driver or other dangerous job")


def _table() -> Mapping[str, Any]:
    return load_table("fatigue_screening")


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
