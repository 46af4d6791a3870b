"""The exam journal (CSV, PDF) and FHIR R4 exports from a hub fed through a real mosquitto.

Columns and values are checked against the exams as the hub stored them (GET /api/v1/exams/{id}),
the FHIR with the fhir.resources R4B models, each PDF turned into PNG pages (pdftoppm) kept under
the artifacts folder; OHS and admin get 403 on every medical export.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from fhir.resources.R4B.bundle import Bundle

from hub.exports import fhir, journal
from tests.exports.export_helpers import (
    WORKERS,
    day_start,
    feed_standard,
    pdf_text,
    pdf_to_png,
    png_size,
    start_fed_hub,
)
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS


@pytest.fixture
def fed(tmp_path, broker):
    hub = start_fed_hub(tmp_path, broker)
    day = day_start()
    ids = feed_standard(hub, day)
    try:
        yield hub, ids, day
    finally:
        hub.agent.stop()
        hub.hub.stop()


def period(day) -> dict:
    return {"since": day.isoformat(), "until": (day + timedelta(days=1)).isoformat()}


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_journal_csv_has_the_thirteen_columns_and_the_stored_values(fed):
    hub, ids, day = fed
    response = hub.get("/api/v1/journal", **period(day), exam_type="pre", site="plant-1", format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = csv_rows(response.content.decode("utf-8"))
    assert rows[0] == [ru for _, ru, _ in journal.COLUMNS] and len(rows[0]) == 13
    body = rows[1:]
    assert len(body) == 3  # the post-shift exam has its own journal
    by_name = {row[1]: row for row in body}
    for key, worker in (("k1", "W00103"), ("k5", "W00102"), ("k7", "W00101")):
        stored = hub.stored(ids[key])
        row = by_name[WORKERS[worker]["full_name"]]
        assert stored["worker_id"] == worker and f"таб. № {worker}" in row[4] and "plant-1" in row[4]
        assert row[2] == {"M": "М", "F": "Ж"}[WORKERS[worker]["sex"]]
        y, m, d = WORKERS[worker]["birth_date"].split("-")
        assert row[3] == f"{d}.{m}.{y}"
        values = {(x["field"], x["attempt"]): x["value"] for x in stored["measurements"]}
        assert f"{values[('systolic_mmhg', 1)]:.0f}/{values[('diastolic_mmhg', 1)]:.0f}" in row[7]
        assert f"пульс {values[('pulse_bpm', 1)]:.0f}" in row[7]
        assert f"{values[('temperature_c', 1)]:.1f}".replace(".", ",") + " °C" in row[7]
        assert "ALC-0042" in row[8] and row[9] == "не проводился"
    k5 = by_name[WORKERS["W00102"]["full_name"]]
    assert k5[8].startswith("0,210 → 0,190 мг/л")
    assert k5[10].startswith("не допущен (решение медработника)") and "работодатель уведомлён" in k5[10]
    assert hub.decided[ids["k5"]]["signature"]["status"] == "valid"
    assert k5[11].startswith(hub.decided[ids["k5"]]["medic"]) and "ЭП: подписано, подпись верна" in k5[11]
    k7 = by_name[WORKERS["W00101"]["full_name"]]
    assert hub.stored(ids["k7"])["outcome"] == "needs_medic"
    assert k7[10].startswith("требуется решение медработника (предварительное решение киоска)")
    assert k7[11].startswith("— (медработник не участвовал)") and "184/112" in k7[7]
    k1 = by_name[WORKERS["W00103"]["full_name"]]
    assert k1[10].startswith("допущен (предварительное решение киоска)") and k1[5] == "жалоб нет"
    assert "печать киоска:" in k1[12]
    # oldest first, as the paper journal
    assert [row[1] for row in body] == [WORKERS[w]["full_name"] for w in ("W00103", "W00102", "W00101")]
    post = csv_rows(hub.get("/api/v1/journal", **period(day), exam_type="post", format="csv").content.decode())
    assert len(post) == 2 and "пульс 81" in post[1][7]
    english = csv_rows(hub.get("/api/v1/journal", **period(day), exam_type="post_shift", format="csv",
                               lang="en").content.decode())
    assert english[0] == [en for _, _, en in journal.COLUMNS] and "pulse 81 bpm" in english[1][7]
    audit = hub.get("/api/v1/audit", ADMIN, limit=50).json()["items"]
    exported = [a for a in audit if a["action"] == "export_journal"]
    assert exported and all(ids[k] in exported[-1]["detail"] for k in ("k1", "k5", "k7"))


def test_journal_pdf_is_landscape_numbered_and_cyrillic(fed, artifacts_dir):
    hub, ids, day = fed
    response = hub.get("/api/v1/journal", **period(day), exam_type="pre", site="plant-1", format="pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pages = pdf_to_png(response.content, artifacts_dir / "exports", "journal-pre")
    assert pages and all(w > h for w, h in (png_size(p) for p in pages))  # landscape
    text = pdf_text(artifacts_dir / "exports" / "journal-pre.pdf")
    assert "Журнал регистрации предсменных, предрейсовых медицинских осмотров" in text
    assert "Площадка: plant-1" in text and f"{day:%d.%m.%Y}" in text
    assert f"Страница 1 из {len(pages)}" in text
    for worker in WORKERS.values():
        assert worker["full_name"].split()[0] in text  # Ё, ё and the rest map back to Unicode
    english = hub.get("/api/v1/journal", **period(day), exam_type="pre", format="pdf", lang="en")
    pages_en = pdf_to_png(english.content, artifacts_dir / "exports", "journal-pre-en")
    english_text = pdf_text(artifacts_dir / "exports" / "journal-pre-en.pdf")
    assert "Journal of pre-shift and pre-trip medical exams" in english_text and "Page 1 of" in english_text
    assert pages_en


def test_journal_refuses_bad_requests_clearly(fed):
    hub, _, day = fed
    bad_type = hub.get("/api/v1/journal", **period(day), exam_type="lunch")
    assert bad_type.status_code == 422 and bad_type.json()["detail"]["field"] == "exam_type"
    backwards = hub.get("/api/v1/journal", since=day.isoformat(), until=(day - timedelta(hours=1)).isoformat(),
                        exam_type="pre")
    assert backwards.status_code == 422 and backwards.json()["detail"]["field"] == "until"
    assert hub.get("/api/v1/journal", exam_type="pre").status_code == 422  # since is required
    empty = hub.get("/api/v1/journal", **period(day - timedelta(days=3)), exam_type="pre", format="csv")
    assert empty.status_code == 200 and len(csv_rows(empty.text)) == 1


def _resources(bundle: dict) -> dict[str, dict]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def test_exam_fhir_bundle_is_valid_r4_with_loinc_ucum_and_devices(fed):
    hub, ids, _ = fed
    response = hub.get(f"/api/v1/exams/{ids['k5']}/fhir")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    data = response.json()
    Bundle.model_validate(data)  # raises on anything not R4(B)-valid
    resources = _resources(data)
    by_type: dict[str, list[dict]] = {}
    for resource in resources.values():
        by_type.setdefault(resource["resourceType"], []).append(resource)
    patient = by_type["Patient"][0]
    assert patient["identifier"][0]["value"] == "W00102" and patient["gender"] == "female"
    assert patient["birthDate"] == "1991-11-30" and patient["name"][0]["text"] == WORKERS["W00102"]["full_name"]
    stored = hub.stored(ids["k5"])
    kiosk = next(d for d in by_type["Device"] if "parent" not in d)
    assert kiosk["identifier"][0]["value"] == f"{stored['site']}/{stored['kiosk']}"
    codes = {}
    for obs in by_type["Observation"]:
        coding = obs["code"]["coding"][0]
        codes.setdefault(coding["code"], []).append(obs)
        assert obs["extension"][0]["url"].endswith("observation-gatewayDevice")
        assert resources[obs["extension"][0]["valueReference"]["reference"]] is kiosk
        sensor = resources[obs["device"]["reference"]]
        assert sensor["parent"]["reference"] == f"urn:uuid:{kiosk['id']}" and sensor["serialNumber"]
        assert resources[obs["subject"]["reference"]] is patient
    measured = {(m["field"], m["attempt"]): m["value"] for m in stored["measurements"]}
    bp = codes["85354-9"][0]
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert components["8480-6"]["value"] == measured[("systolic_mmhg", 1)]
    assert components["8462-4"]["value"] == measured[("diastolic_mmhg", 1)]
    assert components["8480-6"]["code"] == "mm[Hg]" and components["8480-6"]["system"] == "http://unitsofmeasure.org"
    assert codes["8867-4"][0]["valueQuantity"]["code"] == "/min"
    assert codes["8310-5"][0]["valueQuantity"] == {"value": measured[("temperature_c", 1)], "unit": "Cel",
                                                   "system": "http://unitsofmeasure.org", "code": "Cel"}
    alcohol = sorted(codes["brac"], key=lambda o: o["effectiveDateTime"])
    assert alcohol[0]["code"]["coding"][0]["system"] == fhir.LOCAL_OBSERVATION
    assert [o["valueQuantity"]["value"] for o in alcohol] == [0.21, 0.19]
    assert {o["valueQuantity"]["code"] for o in alcohol} == {"mg/L"}
    report = by_type["DiagnosticReport"][0]
    assert report["status"] == "final" and report["conclusionCode"][0]["coding"][0]["code"] == "not_admitted"
    assert resources[report["performer"][0]["reference"]]["name"][0]["text"] == hub.decided[ids["k5"]]["medic"]
    assert len(report["result"]) == len(by_type["Observation"])
    provenance = by_type["Provenance"][0]  # the medic's signature on the decision
    assert resources[provenance["target"][0]["reference"]] is report
    assert provenance["signature"][0]["data"] == hub.decided[ids["k5"]]["signature"]["signature"]
    assert resources[provenance["signature"][0]["who"]["reference"]]["resourceType"] == "Practitioner"
    pending = hub.get(f"/api/v1/exams/{ids['k7']}/fhir").json()
    report7 = next(e["resource"] for e in pending["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert report7["status"] == "preliminary" and "performer" not in report7
    assert hub.get("/api/v1/exams/no-such-exam/fhir").status_code == 404
    audit = hub.get("/api/v1/audit", ADMIN, limit=50).json()["items"]
    assert any(a["action"] == "export_fhir" and ids["k5"] in a["detail"] for a in audit)


def test_period_fhir_bundle_pages_through_every_exam(fed):
    hub, ids, day = fed
    first = hub.get("/api/v1/fhir/Bundle", **period(day), site="plant-1", limit=2)
    assert first.status_code == 200, first.text
    page1 = first.json()
    Bundle.model_validate(page1)
    next_link = next(link["url"] for link in page1["link"] if link["relation"] == "next")
    page2 = hub.get(urlparse(next_link).path, **{k: v[0] for k, v in parse_qs(urlparse(next_link).query).items()})
    Bundle.model_validate(page2.json())
    assert "link" not in page2.json()
    reports = [e["resource"]["identifier"][0]["value"] for page in (page1, page2.json()) for e in page["entry"]
               if e["resource"]["resourceType"] == "DiagnosticReport"]
    assert sorted(reports) == sorted(ids[k] for k in ("k1", "k5", "k7"))
    patients = [e for e in page1["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == len({p["resource"]["identifier"][0]["value"] for p in patients})


@pytest.mark.parametrize("token", [OHS, ADMIN])
def test_ohs_and_admin_get_403_on_every_medical_export(fed, token):
    hub, ids, day = fed
    for path, params in (("/api/v1/journal", {**period(day), "exam_type": "pre", "format": "csv"}),
                         ("/api/v1/journal", {**period(day), "exam_type": "pre", "format": "pdf"}),
                         (f"/api/v1/exams/{ids['k5']}/fhir", {}),
                         ("/api/v1/fhir/Bundle", period(day))):
        response = hub.get(path, token, **params)
        assert response.status_code == 403, (path, response.text)
        assert "medic" in response.json()["detail"]
    assert hub.get(f"/api/v1/exams/{ids['k5']}/fhir", MEDIC).status_code == 200
