"""JSON has no NaN or ±Infinity: results leave the API with such numbers as null, and say so."""

from __future__ import annotations

import math
from typing import Any

REASON = "not a finite number (NaN or ±Infinity, e.g. a rate over zero cases): given as null"


def finite(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``result`` with every non-finite float as None, listed under ``non_finite`` with the reason."""
    found: list[str] = []

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            found.append(path)
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)]
        return value

    out = clean(result, "")
    if found:
        out["non_finite"] = {"count": len(found), "fields": found[:100], "reason": REASON}
    return out
