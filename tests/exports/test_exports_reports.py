"""Seed 004's final risk-group report and seed 003's programme table as CSV and PDF, from stored assessments.

The CSV is compared with the JSON report the hub already serves (GET /api/v1/risk-groups/report, for
the same role) and with the reproductive-risk model; OHS sees small cells hidden; the PDFs become
PNG pages (pdftoppm) kept under the artifacts folder.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from hub.models.registry import run_model
from tests.exports.export_helpers import pdf_text, pdf_to_png, start_fed_hub
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth

OTHER = {"c2": 2, "c3": 1, "c4": 2, "c5": 1, "c6": 1, "c7": False, "c8": False}
TOXICANT = {"class": "3.2", "agents": ["reproductive_toxicant"]}


@pytest.fixture
def hub(tmp_path, broker):
    fed = start_fed_hub(tmp_path, broker)
    try:
        yield fed
    finally:
        fed.agent.stop()
        fed.hub.stop()


def assess(hub, worker: str, c1, year: int) -> dict:
    response = httpx.post(f"{hub.url}/api/v1/risk-groups/{worker}/assessments", headers=auth(MEDIC), timeout=30,
                          json={"criteria": {"c1": c1, **OTHER}, "assessed_at": f"{year}-10-01"})
    assert response.status_code == 201, response.text
    return response.json()


def sections(text: str) -> dict[str, list[list[str]]]:
    """CSV of several tables: title row, header row, rows, empty row -> {title: [header, *rows]}."""
    out: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(row):
            current = None
        elif current is None:
            current = row[0]
            out[current] = []
        else:
            out[current].append(row)
    return out


def fill(hub) -> None:
    """2025: 6 workers (class 2: group 2; class 3.2 with a reproductive toxicant: group 3); 2026: 7 workers."""
    for i in range(6):
        assess(hub, f"w{i}", {"class": "2"} if i < 4 else TOXICANT, 2025)
    for i in range(7):
        assess(hub, f"w{i}", {"class": "2"} if i < 2 else TOXICANT, 2026)


def test_risk_group_report_csv_matches_the_report_for_each_role(hub, artifacts_dir):
    fill(hub)
    for token in (MEDIC, OHS):
        reference = hub.get("/api/v1/risk-groups/report", token).json()
        response = hub.get("/api/v1/reports/risk-groups", token, format="csv")
        assert response.status_code == 200, response.text
        tables = sections(response.content.decode("utf-8"))
        enterprise = next(rows for title, rows in tables.items() if title.startswith("1."))
        header, *rows = enterprise
        assert header[:3] == ["Год", "Осмотр", "Работников"] and header[3:8] == [f"Группа {g}" for g in "12345"]
        assert [r[0] for r in rows] == ["2025", "2026"]
        for row in rows:
            block = reference["years"][row[0]]["periodic"]
            assert int(row[2]) == block["workers"]
            for g, cell in zip("12345", row[3:8], strict=True):
                count = block["distribution"][g]
                assert cell == "скрыто" if count is None else cell.startswith(f"{count} (")
        averages = next(rows for title, rows in tables.items() if title.startswith("2."))[1:]
        for year, value in averages:
            expected = reference["enterprise_average_score"][year]
            assert value == ("скрыто" if expected is None else f"{expected:.2f}".replace(".", ","))
        dynamics = next(rows for title, rows in tables.items() if title.startswith("3."))[1:]
        assert [r[0] for r in dynamics] == [str(d["year"]) for d in reference["dynamics"]]
    # OHS: 2 of 7 workers in group 2 is a small cell (k = 5): hidden in the CSV as in the JSON
    ohs = sections(hub.get("/api/v1/reports/risk-groups", OHS, format="csv").text)
    assert "скрыто" in next(rows for title, rows in ohs.items() if title.startswith("1."))[2]
    pdf = hub.get("/api/v1/reports/risk-groups", ADMIN, format="pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf_to_png(pdf.content, artifacts_dir / "exports", "risk-groups")
    text = pdf_text(artifacts_dir / "exports" / "risk-groups.pdf")
    assert "Итоговый отчёт о группах риска" in text and "Динамика по годам" in text and "Страница 1 из" in text


def test_reproductive_programme_from_the_stored_assessments(hub, artifacts_dir):
    fill(hub)
    medic = sections(hub.get("/api/v1/reports/reproductive", MEDIC, format="csv", since_year=2026).text)
    classes = next(rows for title, rows in medic.items() if title.startswith("1."))
    assert classes[1][:3] == ["2", "2", "0"] and classes[2][:3] == ["3.2", "5", "5"]
    model = run_model("reproductive-risk", {"class": "3.2", "women_workers": 5})
    assert classes[2][3] == model["category_label"]["ru"]
    programme_title, programme = next((t, rows) for t, rows in medic.items() if t.startswith("2."))
    assert "3.2" in programme_title and len(programme) - 1 == len(model["programme"]["rows"])
    assert all(row[5] == "5" for row in programme[1:])
    assert [row[0] for row in programme[1:]] == [str(r["no"]) for r in model["programme"]["rows"]]
    # the measures in seed 003's own Russian words, not the English summary of the table
    assert any("герметизация" in row[1] for row in programme[1:]) and not any("sealing" in row[1] for row in programme)
    # 2025 alone: 2 workers in contact -> hidden for OHS (k = 5), shown to the medic
    ohs = sections(hub.get("/api/v1/reports/reproductive", OHS, format="csv", until_year=2025).text)
    ohs_classes = next(rows for title, rows in ohs.items() if title.startswith("1."))
    assert ohs_classes[2][:3] == ["3.2", "2", "скрыто"]
    assert all(row[5] == "скрыто" for row in next(rows for t, rows in ohs.items() if t.startswith("2."))[1:])
    pdf = hub.get("/api/v1/reports/reproductive", OHS, format="pdf")
    assert pdf.status_code == 200
    assert pdf_to_png(pdf.content, artifacts_dir / "exports", "reproductive")
    every_year = sections(hub.get("/api/v1/reports/reproductive", MEDIC, format="csv").text)
    # each worker once, with the latest assessment: w0, w1 class 2; w2 … w6 in contact (w2, w3 since 2026)
    assert [r[:3] for r in next(rows for t, rows in every_year.items() if t.startswith("1."))[1:]] == [
        ["2", "2", "0"], ["3.2", "5", "5"]]
    assert "программа профилактики" in pdf_text(artifacts_dir / "exports" / "reproductive.pdf")


def test_reports_need_a_role_and_valid_years(hub):
    assert httpx.get(f"{hub.url}/api/v1/reports/risk-groups").status_code == 401
    assert hub.get("/api/v1/reports/reproductive", OHS, since_year=1800).status_code == 422
    empty = hub.get("/api/v1/reports/risk-groups", OHS, format="pdf")
    assert empty.status_code == 200 and empty.content.startswith(b"%PDF")
