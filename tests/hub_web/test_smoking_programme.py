"""The smoking programme from the live data (issue 13, seed 000 §2.4.1): violations by location and person."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.store import Store
from tests.analytics.an_helpers import Records
from tests.medic.medic_helpers import ADMIN, MEDIC, OHS, auth, store_config


@pytest.fixture
def client(tmp_path, hub_store_url):
    config = store_config(tmp_path, hub_store_url)
    store = Store(config.storage.target)
    with TestClient(create_app(config, store)) as client:
        staff = [{"personnel_number": f"W{n:05d}", "site": "plant-1", "full_name": f"Работник {n}",
                  "birth_date": "1990-01-01", "unit": "цех 1"} for n in (1, 2)]
        assert client.put("/api/v1/workers", json={"workers": staff}, headers=auth(ADMIN)).status_code == 200
        yield client, store
    store.close()


def test_violations_attributed_to_a_person_become_reminders_and_proposed_penalties(client):
    api, store = client
    records = Records(store)
    base = datetime.now(timezone.utc).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=2)
    for hours in (0, 5, 26):  # three separate violations in the toilet (smoke-free), one in the smoking area
        records.smoke("toilet-1", base + timedelta(hours=hours))
    records.smoke("smoking-area", base)
    assert api.put("/api/v1/smoking/participants/W00001", headers=auth(OHS), json={"status": "current"}).status_code == 403
    assert api.put("/api/v1/smoking/participants/W00001", headers=auth(MEDIC),
                   json={"status": "current", "enrolled_on": str(base.date())}).status_code == 200
    assert api.put("/api/v1/smoking/participants/W00002", headers=auth(MEDIC),
                   json={"status": "former"}).status_code == 422, "a former smoker needs the quit date"

    before = api.get("/api/v1/smoking/programme", headers=auth(OHS)).json()
    toilet = [row for row in before["by_location"] if row["location"] == "toilet-1"]
    assert toilet and toilet[0]["violations"] == 3 and before["penalties"] == []
    assert any(r["to"] == "location" and r["location"] == "toilet-1" for r in before["reminders"])

    starts = sorted(v["start"] for s in api.get("/api/v1/analytics/smoke/violations", headers=auth(OHS),
                                                   params={"report_period": "all", "fresh": True}).json()["sites"]
                    for v in s["violations"] if v["location"] == "toilet-1")
    for start in starts[:2]:
        made = api.post("/api/v1/smoking/attributions", headers=auth(OHS),
                        json={"site": "plant-1", "location": "toilet-1", "start": start, "personnel_number": "W00001"})
        assert made.status_code == 201, made.text
    again = api.post("/api/v1/smoking/attributions", headers=auth(OHS),
                     json={"site": "plant-1", "location": "toilet-1", "start": starts[0], "personnel_number": "W00002"})
    assert again.status_code == 409, "one violation is attributed once"

    after = api.get("/api/v1/smoking/programme", headers=auth(OHS)).json()
    assert after["attributed"] == 2
    assert [p["violation_in_window"] for p in after["penalties"]] == [1, 2]
    assert all(p["status"] == "proposed" and p["worker"] == "W00001" for p in after["penalties"])
    assert sum(1 for r in after["reminders"] if r["to"] == "person") == 2
    assert any(i["kind"] == "enrolment" and i["worker"] == "W00001" for i in after["incentives"])
