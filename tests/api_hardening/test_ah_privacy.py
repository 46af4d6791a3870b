"""Small cells of the analytics are suppressed for ohs/admin (k = privacy.min_cell_size), with
complementary suppression; the medic sees the counts; per-worker noise is the medic's only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.analytics.privacy import Suppressor, protect
from tests.analytics.an_helpers import Records
from tests.api_hardening.ah_helpers import ADMIN, MEDIC, OHS, auth, hub_client

D1 = datetime(2026, 3, 2, 7, tzinfo=timezone.utc)


def get(client, path: str, token: str, **params) -> dict:
    response = client.get(f"/api/v1/analytics/{path}", params={"fresh": "true", **params}, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_febrile_1_of_18_is_suppressed_for_ohs_and_admin_not_for_the_medic(tmp_path):
    with hub_client(tmp_path) as (client, app):
        rec = Records(app.state.store)
        for i in range(18):
            rec.exam(f"W{i:03}", D1 + timedelta(minutes=i), temperature_c=38.4 if i == 0 else 36.6,
                     outcome="not_admitted" if i == 0 else "admitted")
        for token in (OHS, ADMIN):
            body = get(client, "epi/febrile", token)
            (row,) = body["febrile_by_day_site"]
            assert row["examined"] == 18 and row["suppressed"] is True
            assert row["febrile"] is None and row["proportion"] is None and row["lower"] is None
            assert body["febrile_daily"]["plant-1"]["febrile"] == [None]
            assert body["febrile_daily"]["plant-1"]["suppressed"] == [True]
            assert body["privacy"]["min_cell_size"] == 5 and body["privacy"]["suppressed_cells"] >= 1
        medic = get(client, "epi/febrile", MEDIC)
        (row,) = medic["febrile_by_day_site"]
        assert row["febrile"] == 1 and row["proportion"] == pytest.approx(1 / 18) and "suppressed" not in row


def test_k_is_configuration(tmp_path):
    with hub_client(tmp_path, privacy={"min_cell_size": 1}) as (client, app):
        rec = Records(app.state.store)
        for i in range(3):
            rec.exam(f"W{i}", D1 + timedelta(minutes=i), temperature_c=38.4 if i == 0 else 36.6)
        (row,) = get(client, "epi/febrile", OHS)["febrile_by_day_site"]
        assert row["febrile"] == 1 and "suppressed" not in row


def test_a_suppressed_day_cannot_be_recovered_from_the_period_total(tmp_path):
    """Alcohol per day and over the period: total 7 − day 2 (6) − day 3 (0) would give day 1 (1)."""
    with hub_client(tmp_path) as (client, app):
        rec = Records(app.state.store)
        for day, positives in enumerate((1, 6, 0)):
            for i in range(20):
                rec.exam(f"W{i:03}", D1 + timedelta(days=day, minutes=i), brac_mg_l=0.4 if i < positives else 0.0)
        body = get(client, "epi/alcohol", OHS)
        (total,) = body["alcohol_by_site_shift"]
        assert (total["tested"], total["positive"]) == (60, 7)
        daily = {r["date"]: r["positive"] for r in body["alcohol_daily"]}
        assert daily == {"2026-03-02": None, "2026-03-03": None, "2026-03-04": 0}
        medic = {r["date"]: r["positive"] for r in get(client, "epi/alcohol", MEDIC)["alcohol_daily"]}
        assert medic == {"2026-03-02": 1, "2026-03-03": 6, "2026-03-04": 0}


def test_rt_hides_small_daily_counts_and_the_windows_built_on_them(tmp_path):
    with hub_client(tmp_path) as (client, app):
        rec = Records(app.state.store)
        cases = [0] * 10 + [1, 2, 3, 4, 6, 8, 11]
        worker = 0
        for day, n in enumerate(cases):
            for _ in range(n):
                rec.exam(f"F{worker}", D1 + timedelta(days=day), temperature_c=38.2)
                worker += 1
            for h in range(10):
                rec.exam(f"H{h}", D1 + timedelta(days=day, minutes=5), temperature_c=36.6)
        (site,) = get(client, "rt/febrile", OHS)["sites"]
        assert site["new_febrile"] == [0] * 10 + [None] * 4 + [6, 8, 11]
        assert site["febrile"] == site["new_febrile"] and site["examined"][-1] == 21
        assert site["suppressed"] == [False] * 10 + [True] * 4 + [False] * 3
        estimates = site["rt"]["estimates"]
        assert estimates and all(e["suppressed"] and e["mean"] is None and e["shape"] is None for e in estimates)
        assert site["early_warning"]["raised"] is True  # the warning itself names nobody
        (medic,) = get(client, "rt/febrile", MEDIC)["sites"]
        assert medic["new_febrile"] == cases and all(e["mean"] > 0 for e in medic["rt"]["estimates"])


def test_per_worker_noise_is_the_medics_only(tmp_path):
    with hub_client(tmp_path) as (client, _):
        for token in (OHS, ADMIN):
            assert client.get("/api/v1/analytics/noise/workers", headers=auth(token)).status_code == 403
        assert client.get("/api/v1/analytics/noise/workers", headers=auth(MEDIC)).status_code == 200
    with hub_client(tmp_path / "demo", api={"anonymous_role": "ohs"}) as (client, _):
        assert client.get("/api/v1/analytics/noise/workers").status_code == 403


def test_comparison_hides_a_small_group_and_the_measures_built_on_it():
    result = {"counts": {"noisy": {"workers": 12, "hypertensive": 2}, "quiet": {"workers": 30, "hypertensive": 9}},
              "groups": [{"name": "noisy", "population": 12, "cases": 2, "risk": 2 / 12},
                         {"name": "quiet", "population": 30, "cases": 9, "risk": 0.3}],
              "comparison": {"exposed": "noisy", "reference": "quiet", "a": 2, "rr": {"estimate": 0.55}},
              "rr": {"estimate": 0.55}}
    out = protect("compare-hypertension-noise", result, 5)
    assert out["counts"]["noisy"] == {"workers": 12, "hypertensive": None, "suppressed": True}
    assert out["counts"]["quiet"]["hypertensive"] == 9
    assert out["groups"][0] == {"name": "noisy", "population": 12, "suppressed": True}
    assert out["comparison"] == {"exposed": "noisy", "reference": "quiet", "suppressed": True}
    assert out["rr"] is None and out["privacy"]["suppressed_cells"] == 1


def test_complementary_suppression_hides_the_total_when_no_cell_is_left():
    suppressor = Suppressor(5)
    result = {"bp_by_site": [{"site": "s", "measured": 40, "out_of_range": 3, "high": 3, "low": 0,
                              "proportion": 3 / 40}],
              "bp_daily": [{"date": "d1", "site": "s", "measured": 40, "out_of_range": 3, "high": 3, "low": 0,
                            "proportion": 3 / 40}]}
    suppressor.epi_kiosk(result)
    assert result["bp_daily"][0]["suppressed"] and result["bp_by_site"][0]["suppressed"]
    big = {"bp_by_site": [{"site": "s", "measured": 80, "out_of_range": 12, "high": 12, "low": 0}],
           "bp_daily": [{"date": "d1", "site": "s", "measured": 40, "out_of_range": 2, "high": 2, "low": 0},
                        {"date": "d2", "site": "s", "measured": 40, "out_of_range": 10, "high": 10, "low": 0}]}
    Suppressor(5).epi_kiosk(big)
    assert [r.get("suppressed", False) for r in big["bp_daily"]] == [True, True]  # 12 − 10 would give 2
    assert big["bp_by_site"][0]["out_of_range"] == 12 and "suppressed" not in big["bp_by_site"][0]


def test_an_rt_window_is_hidden_when_a_hidden_day_weighs_in_its_infectivity():
    series = [0, 0, 2, 0, 6, 6, 6, 6, 6, 6]
    estimate = {"mean": 1.2, "sd": 0.3, "lower": 0.7, "median": 1.1, "upper": 1.9, "quantiles": {}, "shape": 19.0,
                "scale": 0.06}
    result = {"burn_in_days": 2, "sites": [{"examined": [50] * 10, "febrile": list(series), "new_febrile": list(series),
                                             "rt": {"estimates": [{"t_start": 5, "t_end": 7, **estimate},
                                                                  {"t_start": 8, "t_end": 10, **estimate}],
                                                    "warnings": ["(2 cases in the first window, 12 wanted)"]}}]}
    site = protect("rt-febrile", result, 5)["sites"][0]
    first, second = site["rt"]["estimates"]
    assert first["suppressed"] and first["mean"] is None  # day 3 (2 cases) is within its 2-day history
    assert second["mean"] == 1.2 and "suppressed" not in second
    assert site["new_febrile"][2] is None
    assert site["rt"]["warnings"] == ["(fewer than 5 cases in the first window, 12 wanted)"]


def test_risk_group_report_hides_small_groups_with_a_complement():
    """Seed 004's report as OHS reads it (issue 10, defect 11): a group of 1–4 of 40 workers is hidden,
    and a second group too, so 40 minus the others cannot give it back."""
    from hub.analytics import privacy

    block = {"workers": 40, "distribution": {"1": 30, "2": 7, "3": 2, "4": 1, "5": 0},
             "share": {"1": 0.75, "2": 0.175, "3": 0.05, "4": 0.025, "5": 0.0}, "high_groups": [4, 5],
             "workers_in_high_groups": 1, "share_high": 0.025, "average_score": 1.2}
    report = {"years": {"2025": {"periodic": block}}, "enterprise_average_score": {"2025": 1.2},
              "dynamics": [{"year": 2025, "workers": 40, "average_score": 1.2, "share_high": 0.025,
                            "change_from_previous_year": None}],
              "collective_agreement": {"workers_in_high_groups": 1}, "distribution_latest_year": {"year": 2025}}
    privacy.protect("risk-group-report", report, 5)
    shown = report["years"]["2025"]["periodic"]["distribution"]
    assert shown == {"1": 30, "2": 7, "3": None, "4": None, "5": 0}
    assert report["years"]["2025"]["periodic"]["workers_in_high_groups"] is None
    assert report["collective_agreement"]["workers_in_high_groups"] is None
    assert report["enterprise_average_score"] == {"2025": 1.2}, "an average over 40 workers stays"
    assert report["distribution_latest_year"]["distribution"] == shown
