"""Schemathesis over the hub's OpenAPI, in-process through the ASGI app, as the medic and as OHS:
no 5xx and every documented response conforms to its schema. Bounded: a few examples per operation.

Findings kept as plain tests are in test_ah_findings.py.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from hub.analytics.runner import AnalyticsRunner
from hub.analytics.settings import AnalyticsSettings
from hub.analytics.workplaces import Roster, save_roster
from hub.api import create_app
from hub.store import Store
from tests.analytics.an_helpers import Records
from tests.api_hardening.ah_helpers import MEDIC, OHS, auth, hub_config

_TMP = Path(tempfile.mkdtemp(prefix="ohs-schemathesis-"))
CONFIG = hub_config(_TMP, models_api={"workers": 1, "timeout_s": 20})
STORE = Store(CONFIG.storage.path, synchronous="NORMAL")
APP = create_app(CONFIG, STORE)


def _seed(store) -> None:
    """Two weeks of exams, noise and smoke on one site with a roster, so the analyses have data."""
    save_roster(store, Roster.model_validate({
        "site": "plant-1", "shifts": [{"shift": "day", "start": time(8), "hours": 8}],
        "zones": [{"zone": "loud", "noise_limit_db": 80.0}, {"zone": "calm"}],
        "workplaces": [{"workplace": "op", "segments": [{"zone": "loud", "hours": 8}]}],
        "assignments": [{"workplace": "op", "shift": "day", "workers": [f"W{i}" for i in range(8)]}]}), "test")
    rec = Records(store)
    start = datetime(2026, 3, 2, 7, tzinfo=timezone.utc)
    for day in range(14):
        at = start + timedelta(days=day)
        rec.noise("loud", at + timedelta(hours=1), [84.0 + day % 3] * 12, step_min=40)
        rec.noise("calm", at + timedelta(hours=1), [55.0] * 12, step_min=40)
        for i in range(8):
            rec.exam(f"W{i}", at + timedelta(minutes=i), temperature_c=38.0 if (i + day) % 5 == 0 else 36.6,
                     brac_mg_l=0.3 if i == day % 8 else 0.0, systolic_mmhg=150 if i < 3 else 120,
                     diastolic_mmhg=80)
    rec.smoke("calm", start + timedelta(days=3, hours=2))
    AnalyticsRunner(store, AnalyticsSettings(enabled=False)).run_once()  # the precomputed results


_seed(STORE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close():
    yield
    pool = getattr(APP.state, "model_pool", None)
    if pool is not None:
        pool.close()
    STORE.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("token", [MEDIC, OHS], ids=["medic", "ohs"])
@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_api_conforms_and_never_fails(case, token):
    response = case.call(headers=auth(token))
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
