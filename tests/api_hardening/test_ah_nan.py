"""NaN and ±Infinity never reach a model (Python, CLI, REST) and never leave the analytics API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from hub.analytics.runner import save_result
from hub.models.registry import ModelInputError, load_all, run_model
from tests.api_hardening.ah_helpers import MEDIC, OHS, auth, hub_client

ROOT = Path(__file__).resolve().parents[2]
RT = {"incidence": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "serial_interval": {"mean": 2.6, "sd": 1.5}}
EXPOSURE = {"samples": [{"value": 1.0}, {"value": 2.0}, {"value": 3.0}], "oel": 5}

#: (model, a valid input as JSON text with one number replaced by the token, the field the error names)
CASES = [
    ("rt", '{"incidence":[1,2,3,4,5,6,7,8,9,10],"serial_interval":{"mean":%s,"sd":1.5}}', "serial_interval.mean"),
    ("rt", '{"incidence":[1,2,3,4,5,6,7,8,9,10],"serial_interval":{"mean":2.6,"sd":1.5},"prior_mean":%s}',
     "prior_mean"),
    ("exposure-stats", '{"samples":[{"value":1},{"value":2},{"value":3}],"oel":%s}', "oel"),
    ("exposure-stats", '{"samples":[{"value":1},{"value":%s},{"value":3}],"oel":5}', "samples.1.value"),
]
TOKENS = ["NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("name,template,field", CASES)
def test_python_refuses_non_finite_numbers_naming_the_field(name, template, field, token):
    with pytest.raises(ModelInputError) as error:
        run_model(name, json.loads(template % token))  # json.loads reads NaN/Infinity as floats
    assert error.value.field == field


@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-inf"])
def test_python_refuses_non_finite_numbers_given_as_text(text):
    with pytest.raises(ModelInputError) as error:
        run_model("exposure-stats", {**EXPOSURE, "oel": text})
    assert error.value.field == "oel" and "finite" in str(error.value)


def test_every_model_input_schema_refuses_inf_nan():
    """allow_inf_nan=False on every input model and every model nested in it."""
    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        assert model.model_config.get("allow_inf_nan") is False, f"{model.__module__}.{model.__name__}"
        for field in model.model_fields.values():
            for arg in _types(field.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    walk(arg)

    for spec in load_all().values():
        walk(spec.input_model)
    assert len(seen) > 20


def _no_constant(token: str):
    raise AssertionError(f"{token} in an API response")


def _types(annotation):
    yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _types(arg)


@pytest.mark.parametrize("token", ["NaN", "-Infinity"])
def test_cli_exits_2_naming_the_field(token):
    done = subprocess.run([sys.executable, "-m", "hub.models", "rt"], input=CASES[0][1] % token, text=True,
                          capture_output=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stdout
    assert "serial_interval.mean" in done.stderr and "NaN and ±Infinity are refused" in done.stderr
    assert done.stdout == ""


def test_rest_refuses_non_finite_numbers_with_422_naming_the_field(tmp_path):
    with hub_client(tmp_path) as (client, _):
        for name, template, field in CASES:
            for token in TOKENS:
                response = client.post(f"/api/v1/models/{name}", content=template % token,
                                       headers={**auth(OHS), "Content-Type": "application/json"})
                assert response.status_code == 422, (name, token, response.text)
                assert response.json()["detail"]["field"] == field
        text = client.post("/api/v1/models/exposure-stats", json={**EXPOSURE, "oel": "Infinity"}, headers=auth(OHS))
        assert text.status_code == 422 and text.json()["detail"]["field"] == "oel"
        assert client.post("/api/v1/models/rt", json=RT, headers=auth(OHS)).status_code == 200


def test_analytics_serve_non_finite_numbers_as_null_with_the_reason(tmp_path):
    with hub_client(tmp_path) as (client, app):
        store = app.state.store
        result = {"period": {"date_from": "2026-03-02", "date_to": "2026-03-02"}, "zones": [
            {"zone": "a", "period": {"laeq_db": float("nan"), "class": None}},
            {"zone": "b", "period": {"laeq_db": float("inf"), "class": None}}], "alarms": []}
        save_result(store, "noise-zones", {}, result, 0.1)
        for token in (OHS, MEDIC):
            response = client.get("/api/v1/analytics/noise/zones", headers=auth(token))
            assert response.status_code == 200
            body = json.loads(response.text, parse_constant=_no_constant)  # strict JSON: no NaN/Infinity tokens
            assert [z["period"]["laeq_db"] for z in body["zones"]] == [None, None]
            assert body["non_finite"]["fields"] == ["zones.0.period.laeq_db", "zones.1.period.laeq_db"]
            assert "null" in body["non_finite"]["reason"]
