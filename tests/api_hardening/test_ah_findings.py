"""What the schemathesis runs found, each kept as a plain test (all answered 500 or broke the schema before)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from hub.models import registry
from hub.models.registry import ModelInputError, run_model
from tests.api_hardening.ah_helpers import MEDIC, OHS, auth, hub_client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with hub_client(tmp_path_factory.mktemp("findings")) as (test_client, _):
        yield test_client


def test_custom_422_answers_are_documented(client):
    """The routers' own 422s carry an object or a sentence, not FastAPI's list: OpenAPI says so."""
    spec = client.get("/openapi.json").json()
    for path, method in (("/api/v1/risk-groups/{worker_id}/assessments", "post"),
                         ("/api/v1/medic/exams/{event_id}/decision", "post"),
                         ("/api/v1/analytics/rt/febrile", "get")):
        ref = spec["paths"][path][method]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody"), (path, ref)
    detail = spec["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert {t.get("type") for t in detail["anyOf"]} == {"array", "object", "string"}
    bad = client.post("/api/v1/risk-groups/W1/assessments", json={"criteria": {}}, headers=auth(MEDIC))
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], dict)


@pytest.mark.parametrize("path", ["compare/hypertension-noise", "rt/febrile", "noise/zones", "epi/bp"])
@pytest.mark.parametrize("params", [{"date_from": "0001-01-01"}, {"date_to": "9999-12-31"},
                                    {"date_from": "9999-12-31"}])
def test_dates_at_the_ends_of_the_calendar_are_422(client, path, params):
    response = client.get(f"/api/v1/analytics/{path}", params=params, headers=auth(OHS))
    assert response.status_code == 422, response.text
    assert "out of range" in response.json()["detail"]


#: model inputs that passed the schema and then failed inside the model (500)
EXTREME = [
    ("smoke-report", {"merge_minutes": 8.227788017651279e307}, "merge_minutes"),
    ("noise-exposure", {"interval_minutes": 5e-324, "zones": [{"zone": "z", "readings": [
        {"laeq_db": 60, "time": "2026-01-01T00:00:01Z"}]}]}, "interval_minutes"),
    ("noise-exposure", {"zones": [{"zone": "z", "readings": [
        {"laeq_db": 60, "time": "2026-01-01T00:00:01Z", "duration_s": 1.7976931348623157e308}]}]},
     "zones.0.readings.0.duration_s"),
    ("noise-exposure", {"zones": [{"zone": "z", "readings": [
        {"laeq_db": 5e-324, "time": "2026-01-01T00:00:01Z", "duration_s": 5e-324}]}]}, "zones.0.readings.0.duration_s"),
    ("risk-group", {"criteria": {"c1": 1, "c2": {"exposures": [{"kind": [], "years": 0.0}]}, "c3": 1, "c4": 1,
                                 "c5": 1, "c6": 1, "c7": False, "c8": False}}, "criteria.c2"),
]


@pytest.mark.parametrize("name,payload,field", EXTREME)
def test_extreme_model_inputs_are_422_not_500(client, name, payload, field):
    with pytest.raises(ModelInputError) as error:
        run_model(name, payload)
    assert error.value.field.startswith(field)
    response = client.post(f"/api/v1/models/{name}", json=payload, headers=auth(OHS))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"].startswith(field)


def test_an_arithmetic_failure_inside_a_model_is_an_input_error(monkeypatch):
    class Input(BaseModel):
        model_config = ConfigDict(allow_inf_nan=False, extra="forbid")
        minutes: float

    def explode(data: Input) -> dict:
        """A model that cannot compute with huge numbers."""
        from datetime import timedelta
        return {"until": str(timedelta(minutes=data.minutes))}

    monkeypatch.setitem(registry.MODELS, "explode", registry.ModelSpec("explode", Input, explode, "explode"))
    with pytest.raises(ModelInputError) as error:
        run_model("explode", {"minutes": 1e300})
    assert error.value.field == "(input)" and "OverflowError" in str(error.value)
    assert run_model("explode", {"minutes": 1}) == {"until": "0:01:00"}
