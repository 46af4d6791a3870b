"""``GET /api/v1/telemetry/rollups`` on both back ends: the medic and OHS read a zone's aggregates (equal
to a direct computation over the values sent), the admin is refused, bad parameters get 422."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from hub.api import create_app
from hub.retention import Retention
from hub.store import Store
from tests.api_hardening.ah_helpers import ADMIN, MEDIC, OHS, auth, hub_config
from tests.timeseries.test_retention import _assert_equal, _insert, _random_rows, _settings
from tests.timeseries.test_retention import _direct_zone as direct_zone

START = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
URL = "/api/v1/telemetry/rollups"


def test_the_rollups_endpoint_answers_medic_and_ohs_and_refuses_bad_parameters(tmp_path, hub_store_url):
    store = Store(hub_store_url)
    rows = _random_rows(random.Random(77), START, minutes=150, count=800)
    _insert(store, rows)
    Retention(store, _settings(batch_rows=500)).rollup()
    app = create_app(hub_config(tmp_path), store)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            params = {"zone": "press", "quantity": "noise_dba", "resolution": "hour",
                      "since": START.isoformat(), "until": (START + timedelta(hours=3)).isoformat()}
            want = {k: v for k, v in direct_zone(rows, "hour").items() if k[1:] == ("press", "noise_dba")}
            for token in (MEDIC, OHS):
                response = client.get(URL, params=params, headers=auth(token))
                assert response.status_code == 200, response.text
                body = response.json()
                assert (body["zone"], body["quantity"], body["resolution"]) == ("press", "noise_dba", "hour")
                got = {(p["start"], "press", "noise_dba"): {k: p[k] for k in ("n", "invalid", "min", "max", "mean",
                                                                               "laeq")} for p in body["periods"]}
                _assert_equal(got, want)
                assert all(p["mean"] is None and p["laeq"] is not None for p in body["periods"])
            minutes = client.get(URL, params={**params, "quantity": "temperature_c", "resolution": "minute"},
                                 headers=auth(OHS)).json()["periods"]
            assert minutes and all(p["laeq"] is None for p in minutes)
            assert sum(p["n"] + p["invalid"] for p in minutes) == sum(
                1 for r in rows if r[4] == "press" and r[6] == "temperature_c")

            assert client.get(URL, params=params, headers=auth(ADMIN)).status_code == 403
            assert client.get(URL, params=params).status_code in (401, 403)
            naive = START.replace(tzinfo=None)
            for bad in ({"resolution": "day"}, {"until": START.isoformat()}, {"since": "yesterday"},
                        {"since": naive.isoformat(), "until": (naive + timedelta(hours=1)).isoformat()},
                        {"resolution": "minute", "until": (START + timedelta(days=8)).isoformat()},
                        {"zone": ""}):
                response = client.get(URL, params={**params, **bad}, headers=auth(MEDIC))
                assert response.status_code == 422, (bad, response.text)
                assert response.json()["detail"], bad
            missing = {k: v for k, v in params.items() if k != "zone"}
            assert client.get(URL, params=missing, headers=auth(OHS)).status_code == 422
    finally:
        store.close()
