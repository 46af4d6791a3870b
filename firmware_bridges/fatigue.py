"""Fatigue and stress screening instruments: the one definition and scorer the kiosk and the hub share.

Seed 002 B.3.3.5 (psychosocial risks): self-rated stress and fatigue are detectable at admission
to the shift. The instruments — their items, answer scales, scoring, bands, cut-offs and
citations — live in ``configs/models/fatigue_screening.toml``; the hub's ``fatigue-screening``
model (``hub/models/fatigue_screening.py``) and the kiosk's screening step
(``edge_agent/workflow/fatigue.py``) both read and score them here, so the kiosk never imports
the hub and the two sides cannot score the same answers differently.

Pure functions over a parsed table (a mapping); :func:`load_definition` is the only I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from firmware_bridges.configfile import ConfigError, load_toml, shipped_config

INSTRUMENTS = ("kss", "samn_perelli", "elo_stress", "phq4")
#: Instruments scored from several items (each item its own screen at the kiosk).
MULTI_ITEM = frozenset({"phq4"})
SOURCE = "seed 002 B.3.3.5 (psychosocial risks at admission); instruments in configs/models/fatigue_screening.toml"


def default_table_path() -> Path:
    """The shipped table, ``configs/models/fatigue_screening.toml``."""
    return shipped_config("models", "fatigue_screening.toml")


def load_definition(path: str | Path | None = None) -> dict[str, Any]:
    """The parsed table at ``path`` (default: the shipped one), checked enough for the kiosk to
    ask its items: every listed instrument is known, defined, and has its wording and anchors.
    ``ConfigError`` names the file and the key."""
    where = Path(path) if path is not None else default_table_path()
    table = load_toml(where)
    check_table(table, table.get("instruments", []), where)
    return table


def check_table(table: Mapping[str, Any], instruments: Sequence[str], source: str | Path) -> None:
    """``ConfigError`` unless each of ``instruments`` can be asked and scored from ``table``."""
    if not instruments:
        raise ConfigError(f"{source}: instruments: at least one instrument is needed")
    for name in instruments:
        if name not in INSTRUMENTS:
            raise ConfigError(f"{source}: instruments: unknown instrument {name!r}; known: {', '.join(INSTRUMENTS)}")
        spec = table.get(name)
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{source}: {name}: the instrument is listed but not defined")
        keys = ["name", "source", "positive_at_or_above", "bands", "anchors"]
        keys += ["items", "item_max", "stem", "item_texts", "subscale_positive_at_or_above"] if name in MULTI_ITEM \
            else ["min", "max", "question"]
        for key in keys:
            if key not in spec:
                raise ConfigError(f"{source}: {name}.{key}: missing (needed to ask and score {name})")
        if name in MULTI_ITEM and len(spec["item_texts"]) != spec["items"]:
            raise ConfigError(f"{source}: {name}.item_texts: {spec['items']} item texts are needed")
        values = scale_values(name, spec)
        for anchor in spec["anchors"]:
            if anchor.get("value") not in values or not anchor.get("ru") or not anchor.get("en"):
                raise ConfigError(f"{source}: {name}.anchors: each anchor needs a value on the scale "
                                  f"({values[0]}-{values[-1]}), ru and en")


def scale_values(name: str, spec: Mapping[str, Any]) -> list[int]:
    """The answers one item of ``name`` allows, in order."""
    if name in MULTI_ITEM:
        return list(range(0, int(spec["item_max"]) + 1))
    return list(range(int(spec["min"]), int(spec["max"]) + 1))


def band(score: int, bands: Any) -> dict[str, Any]:
    """The label of the highest band whose ``from`` the score reaches."""
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
        return {"instrument": spec["name"], "score": total, "band": band(total, spec["bands"]),
                "positive": total >= spec["positive_at_or_above"] or gad2 >= cut or phq2 >= cut,
                "gad2": gad2, "phq2": phq2, "cut_off": spec["positive_at_or_above"], "source": spec["source"]}
    if isinstance(answer, list) or not spec["min"] <= answer <= spec["max"]:
        raise ValueError(f"{spec['name']} is scored {spec['min']}-{spec['max']}")
    return {"instrument": spec["name"], "score": answer, "band": band(answer, spec["bands"]),
            "positive": answer >= spec["positive_at_or_above"], "cut_off": spec["positive_at_or_above"],
            "source": spec["source"]}


def items(table: Mapping[str, Any], instruments: Sequence[str]) -> list[dict[str, Any]]:
    """The questions to ask, one per screen, in order: ``id`` (the instrument's key, or
    ``<key>_<n>`` for a multi-item instrument), the wording (``ru``/``en``, with the ``stem``
    for multi-item ones) and the answer ``scale`` with the anchors' labels where the paper has them."""
    out: list[dict[str, Any]] = []
    for name in instruments:
        spec = table[name]
        anchors = {a["value"]: {"ru": a["ru"], "en": a["en"]} for a in spec["anchors"]}
        scale = [{"value": v, **anchors.get(v, {})} for v in scale_values(name, spec)]
        if name in MULTI_ITEM:
            for n, text in enumerate(spec["item_texts"], start=1):
                out.append({"id": f"{name}_{n}", "instrument": name, "name": spec["name"],
                            "stem": {"ru": spec["stem"]["ru"], "en": spec["stem"]["en"]},
                            "ru": text["ru"], "en": text["en"], "scale": scale})
        else:
            out.append({"id": name, "instrument": name, "name": spec["name"], "ru": spec["question"]["ru"],
                        "en": spec["question"]["en"], "scale": scale})
    return out


def score_answers(table: Mapping[str, Any], instruments: Sequence[str], answers: Mapping[str, int]) -> dict[str, Any]:
    """Every instrument scored from the per-item answers (``{item id: value}``, as :func:`items`
    names them): ``results`` per instrument and the ``positive`` ones. ``ValueError`` if an item
    is missing or out of its scale."""
    results: dict[str, Any] = {}
    for name in instruments:
        spec = table[name]
        ids = [f"{name}_{n}" for n in range(1, int(spec["items"]) + 1)] if name in MULTI_ITEM else [name]
        missing = [i for i in ids if i not in answers]
        if missing:
            raise ValueError(f"no answer to {', '.join(missing)}")
        answer: int | list[int] = [answers[i] for i in ids] if name in MULTI_ITEM else answers[name]
        results[name] = score_instrument(name, answer, spec)
    return {"results": results, "positive": [name for name, r in results.items() if r["positive"]]}
