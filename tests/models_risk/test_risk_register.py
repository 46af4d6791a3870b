"""Risk register (seed 002, digest 2.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models.registry import ModelInputError, run_model


def row(code, h, d, f, p, **extra):
    return {"code": code, "factor": f"factor {code}", "hazard": f"hazard {code}", "hazard_level": h, "exposure_duration": d, "exposure_frequency": f, "probability": p, **extra}


def register(*rows, **extra):
    return run_model("risk-register", {"rows": list(rows), **extra})


def test_score_is_the_sum_of_fields_6_to_9():
    result = register(row("Ф1", 3, 4, 5, 4))
    assert result["rows"][0]["score"] == 16
    assert result["rows"][0]["max_score"] == 20


@pytest.mark.parametrize(("likelihood", "severity", "cell", "level"), [(1, 3, "A3", "low"), (3, 4, "C4", "high"), (5, 5, "E5", "very_high"), (2, 3, "B3", "medium")])
def test_matrix_cell_codes_follow_the_seed_example(likelihood, severity, cell, level):
    result = register(row("X", 2, 2, 2, 2, likelihood=likelihood, severity=severity))["rows"][0]
    assert result["cell"] == cell and result["cell_level"] == level


def test_matrix_defaults_to_hazard_level_and_probability():
    result = register(row("X", 4, 1, 1, 3))["rows"][0]
    assert result["cell"] == "C4"


def test_acceptability():
    rows = register(row("ok", 2, 2, 2, 2), row("too much", 3, 3, 3, 3))["rows"]
    assert rows[0]["acceptable"] is True
    assert rows[1]["score"] == 12 and rows[1]["acceptable"] is False
    assert rows[1]["warnings"] == ["unacceptable risk without measures (field 12)"]


def test_severity_veto_reproduces_the_fuel_fire_example():
    """Seed 002, figures B.5-B.6: low probability, short exposure, extreme consequences."""
    fire = row(
        "Г1",
        5,
        1,
        1,
        1,
        owner="fuel store",
        measures=[{"text": "automatic extinguishing", "control": "engineering"}],
        residual={"hazard_level": 5, "exposure_duration": 1, "exposure_frequency": 1, "probability": 1},
    )
    result = register(fire)["rows"][0]
    assert result["score"] == 8 and result["acceptable"] is False
    assert result["residual"]["acceptable"] is False
    assert any("insurance" in w for w in result["warnings"])
    insured = register({**fire, "additional_measures": [{"text": "fire insurance", "kind": "insurance"}]})["rows"][0]
    assert not any("insurance" in w for w in insured["warnings"])
    no_veto = register(fire, settings={"severity_veto": 0})["rows"][0]
    assert no_veto["score_acceptable"] is True


def test_residual_risk_and_reduction():
    result = register(
        row(
            "Ф1",
            3,
            4,
            5,
            4,
            measures=[{"text": "earmuffs", "control": "ppe"}, {"text": "enclosure", "control": "engineering"}, {"text": "rotation", "control": "administrative"}],
            residual={"hazard_level": 2, "exposure_duration": 2, "exposure_frequency": 2, "probability": 2},
        )
    )["rows"][0]
    assert [m["control"] for m in result["measures"]] == ["engineering", "administrative", "ppe"]
    assert result["highest_control"] == "engineering"
    assert result["residual"]["score"] == 8
    assert result["residual"]["reduction"] == 8
    assert result["residual"]["reduction_percent"] == pytest.approx(50.0)
    assert result["residual"]["acceptable"] is True


def test_ppe_only_warns_about_the_hierarchy():
    result = register(row("Ф1", 3, 4, 5, 4, measures=[{"text": "earmuffs", "control": "ppe"}]))["rows"][0]
    assert any("hierarchy of controls" in w for w in result["warnings"])


def test_ranking_by_score_then_matrix_level():
    result = register(row("a", 2, 2, 2, 2), row("b", 4, 4, 4, 4), row("c", 4, 1, 1, 2), row("d", 2, 1, 1, 4))
    assert [r["code"] for r in result["ranking"]] == ["b", "c", "d", "a"]
    # c and d both score 8: c (B4, medium) and d (D2, medium) tie on level; severity 4 > 2 ranks c first
    assert [r["rank"] for r in result["rows"]] == [4, 1, 2, 3]


def test_stricter_acceptable_level_per_row_and_laxer_refused():
    strict = register(row("x", 2, 2, 2, 2, acceptable_level=7))["rows"][0]
    assert strict["acceptable"] is False and strict["acceptable_level"] == 7
    with pytest.raises(ModelInputError) as caught:
        register(row("x", 2, 2, 2, 2), row("y", 2, 2, 2, 2, acceptable_level=15))
    assert caught.value.field == "rows.1.acceptable_level"


def test_settings_change_weights_and_threshold():
    result = register(row("x", 3, 2, 2, 2), settings={"dimensions": {"hazard_level": {"weight": 2}}, "acceptable_score": 12})
    assert result["rows"][0]["score"] == 12 and result["rows"][0]["acceptable"] is True
    assert result["settings"]["weights"]["hazard_level"] == 2


def test_owners_deadlines_and_overdue():
    result = register(
        row(
            "x",
            4,
            4,
            4,
            4,
            owner="shop 3",
            responsible="Ivanov",
            deadline="2026-01-31",
            measures=[{"text": "local exhaust", "control": "engineering", "owner": "chief engineer", "deadline": "2026-02-01"}, {"text": "done already", "control": "ppe", "deadline": "2025-01-01", "status": "done"}],
        ),
        as_of="2026-03-01",
    )["rows"][0]
    assert result["owner"] == "shop 3" and result["responsible"] == "Ivanov"
    assert result["measures"][0]["owner"] == "chief engineer"
    assert result["overdue"] == ["local exhaust", "register row deadline"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"hazard_level": 7}, "rows.0.hazard_level"),
        ({"probability": 0}, "rows.0.probability"),
        ({"severity": 6}, "rows.0.severity"),
        ({"residual": {"hazard_level": 1, "exposure_duration": 1, "exposure_frequency": 9, "probability": 1}}, "rows.0.residual.exposure_frequency"),
        ({"measures": [{"text": "x", "control": "prayer"}]}, "rows.0.measures.0.control"),
    ],
)
def test_invalid_rows_name_the_field(bad, field):
    with pytest.raises(ModelInputError) as caught:
        register({**row("x", 2, 2, 2, 2), **bad})
    assert caught.value.field == field


def test_missing_field_and_empty_register():
    payload = row("x", 2, 2, 2, 2)
    del payload["hazard"]
    with pytest.raises(ModelInputError) as caught:
        register(payload)
    assert caught.value.field == "rows.0.hazard"
    with pytest.raises(ModelInputError) as caught:
        run_model("risk-register", {"rows": []})
    assert caught.value.field == "rows"


def test_bad_matrix_setting():
    with pytest.raises(ModelInputError) as caught:
        register(row("x", 2, 2, 2, 2), settings={"matrix_cells": [["low"] * 5] * 4 + [["low", "low", "low", "low", "purple"]]})
    assert caught.value.field == "settings.matrix_cells.4.4"


values = st.integers(1, 5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(values, values, values, values), min_size=1, max_size=30))
def test_ranking_is_a_permutation_ordered_by_score(rows):
    result = register(*[row(str(i), *v) for i, v in enumerate(rows)])
    ranks = [r["rank"] for r in result["rows"]]
    assert sorted(ranks) == list(range(1, len(rows) + 1))
    scores = [r["score"] for r in result["ranking"]]
    assert scores == sorted(scores, reverse=True)
    assert result["summary"]["acceptable"] + result["summary"]["unacceptable"] == len(rows)
