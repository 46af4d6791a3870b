"""risk-group-report: distribution, enterprise average, dynamics, measures (seed 004 final report)."""

from __future__ import annotations

import pytest

from hub.models.registry import ModelInputError, run_model


def worker(wid, year, row, exam="periodic", **extra):
    names = ("c1", "c2", "c3", "c4", "c5", "c6")
    return {"worker_id": wid, "year": year, "exam": exam, "criteria": dict(zip(names, row, strict=True)), **extra}


ASSESSMENTS = [
    worker("a", 2024, (1, 1, 1, 1, 1, 1)),  # final 1, score 0
    worker("b", 2024, (3, 3, 2, 2, 2, 2)),  # final 3, score 8
    worker("c", 2024, (5, 5, 4, 5, 5, 5)),  # final 5, score 23
    worker("n", 2024, (2, 1, 1, 1, 1, 1), exam="preliminary"),  # new hire, score 1, not in the average
    worker("a", 2025, (1, 1, 1, 1, 1, 1)),
    worker("b", 2025, (3, 2, 2, 2, 2, 2)),  # final 2, score 7
    worker("c", 2025, (5, 5, 4, 5, 5, 5), physician={"group": 4, "reason": "confirmed stable after transfer"}),
]


def test_report_rows():
    report = run_model("risk-group-report", {"assessments": ASSESSMENTS, "include_workers": True})
    y24 = report["years"]["2024"]
    assert y24["periodic"]["distribution"] == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 1}
    assert y24["periodic"]["average_score"] == pytest.approx((0 + 8 + 23) / 3)
    assert y24["preliminary"]["workers"] == 1 and y24["preliminary"]["distribution"]["1"] == 1
    y25 = report["years"]["2025"]
    assert y25["periodic"]["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 0}
    assert y25["overridden_by_physician"] == 1 and y25["awaiting_physician"] == 2
    assert report["enterprise_average_score"]["2025"] == pytest.approx((0 + 7 + 23) / 3)
    change = report["dynamics"][1]["change_from_previous_year"]
    assert change["average_score"] == pytest.approx(10 - 31 / 3)
    assert change["share_high"] == pytest.approx(0.0)  # 5 -> 4, both high groups
    assert change["distribution"]["5"] == -1 and change["distribution"]["4"] == 1
    assert report["collective_agreement"]["worker_ids"] == ["c"]
    assert set(report["measures_by_group"]) == {"1", "2", "3", "4", "5"}
    c25 = [w for w in report["worker_results"] if w["worker_id"] == "c" and w["year"] == 2025][0]
    assert c25["final"] == 5 and c25["group"] == 4 and c25["status"] == "overridden"


def test_columns_give_the_same_report():
    names = ("c1", "c2", "c3", "c4", "c5", "c6")
    columns = {name: [a["criteria"][name] for a in ASSESSMENTS] for name in names}
    columns.update(
        year=[a["year"] for a in ASSESSMENTS],
        exam=[a["exam"] for a in ASSESSMENTS],
        worker_id=[a["worker_id"] for a in ASSESSMENTS],
        physician_group=[a.get("physician", {}).get("group") for a in ASSESSMENTS],
        physician_reason=[a.get("physician", {}).get("reason") for a in ASSESSMENTS],
    )
    rows = run_model("risk-group-report", {"assessments": ASSESSMENTS})
    cols = run_model("risk-group-report", {"columns": columns})
    assert cols["years"] == rows["years"]
    assert cols["dynamics"] == rows["dynamics"]


def test_raw_criteria_in_the_report():
    raw = worker("r", 2025, (1, 1, 1, 1, 1, 1))
    raw["criteria"]["c1"] = {"class": "3.3"}
    report = run_model("risk-group-report", {"assessments": [raw], "include_workers": True})
    assert report["worker_results"][0]["criteria_groups"]["c1"] == 4


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"assessments": [worker("a", 2025, (1,) * 6), worker("a", 2025, (2,) * 6)]}, "assessments.1.worker_id"),
        ({"assessments": [worker("a", 2025, (1, 1, 1, 1, 1, 7))]}, "assessments.0.criteria.c6.group"),
        ({"assessments": [worker("a", 2025, (3, 3, 2, 2, 2, 2), physician={"group": 5})]}, "assessments.0.physician.reason"),
        ({"assessments": [worker("a", 2025, (1,) * 6)], "columns": {"year": [2025], **{f"c{k}": [1] for k in range(1, 7)}}}, "assessments"),
        ({}, "assessments"),
        ({"columns": {"year": [2025, 2025], **{f"c{k}": [1, 1] for k in range(1, 6)}, "c6": [1]}}, "columns.c6"),
        ({"assessments": [{"year": 2025, "criteria": {"c1": {"class": "3.3", "agents": ["dust"]}, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 1}}]}, "assessments.0.criteria.c1.raw.agents.0"),
    ],
)
def test_invalid_reports(payload, field):
    with pytest.raises(ModelInputError) as caught:
        run_model("risk-group-report", payload)
    assert caught.value.field == field
