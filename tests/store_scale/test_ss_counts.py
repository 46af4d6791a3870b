"""GET /api/v1/exams counts up to a cap (10 000); past it ``total`` is an estimate and
``total_estimated`` says so. ``next_offset`` never depends on the count."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.store import COUNT_CAP, Store
from tests.store_scale.ss_helpers import MEDIC, OHS, bulk_exams, hub_config

N = 12_500  # 4 sites, 3 kiosks each


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("ss-counts") / "hub.db"
    store = Store(path, synchronous="NORMAL")
    bulk_exams(store, N)
    store.refresh_statistics()
    app = create_app(hub_config(path), store)
    with TestClient(app) as c:
        yield c, store
    store.close()


def get(c, **params):
    response = c.get("/api/v1/exams", params=params, headers=OHS)
    assert response.status_code == 200, response.text
    return response.json()


def test_counts_past_the_cap_are_estimated_and_flagged(client):
    c, store = client
    body = get(c)
    assert body["total_estimated"] is True and body["total_cap"] == COUNT_CAP == 10_000
    assert body["total"] == N, "with no filter the estimate is the row count of the append-only table"
    assert len(body["items"]) == 50 and body["next_offset"] == 50
    admitted = store.scalar("SELECT count(*) FROM exams WHERE outcome = 'admitted'")
    assert admitted > COUNT_CAP
    body = get(c, outcome="admitted")
    assert body["total_estimated"] is True and body["total"] > COUNT_CAP
    assert abs(body["total"] - admitted) / admitted < 0.2, (body["total"], admitted)


def test_counts_under_the_cap_are_exact(client):
    c, store = client
    for params in ({"site": "plant-2"}, {"outcome": "needs_medic"}, {"kiosk": "kiosk-3-2", "outcome": "admitted"},
                   {"since": "2026-03-20T00:00:00+00:00", "until": "2026-03-25T00:00:00+00:00"}):
        body = get(c, **params)
        where = " AND ".join(f"{k} = ?" for k in params if k not in ("since", "until")) or "1"
        args = [v for k, v in params.items() if k not in ("since", "until")]
        if "since" in params:
            where += " AND finished_at >= ? AND finished_at < ?"
            args += [params["since"], params["until"]]
        expected = store.scalar(f"SELECT count(*) FROM exams WHERE {where}", args)
        assert 0 < expected <= COUNT_CAP
        assert body["total"] == expected and body["total_estimated"] is False, params


def test_paging_to_the_end_without_an_exact_total(client):
    c, _ = client
    body = get(c, limit=1000, offset=N - 1500)
    assert len(body["items"]) == 1000 and body["next_offset"] == N - 500 and body["total_estimated"] is True
    last = get(c, limit=1000, offset=N - 500)
    assert len(last["items"]) == 500 and last["next_offset"] is None
    beyond = get(c, offset=N + 10)
    assert beyond["items"] == [] and beyond["next_offset"] is None
    small = get(c, site="plant-1", limit=1000, offset=3000)
    assert small["total"] == 3125 and small["total_estimated"] is False and small["next_offset"] is None


def test_the_medic_view_reports_the_same_fields(client):
    c, _ = client
    body = c.get("/api/v1/exams", params={"worker_id": "W0007"}, headers=MEDIC).json()
    assert body["view"] == "medical" and body["total_estimated"] is False and body["total"] == len(body["items"])
