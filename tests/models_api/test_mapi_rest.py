"""``POST /api/v1/models/{name}`` gives the same JSON as ``run_model`` and names the field of bad input.

The valid inputs are the runnable examples of ``docs/models/*.md`` (``echo '…' | … -m hub.models
NAME`` and ``cat <<'JSON' | … -m hub.models NAME``), so the docs, Python and REST stay one
contract. Every registered model must have at least one example there.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.config import HubConfig
from hub.models.registry import ModelInputError, load_all, run_model
from hub.store import Store

DOCS = Path(__file__).resolve().parents[2] / "docs" / "models"
ECHO = re.compile(r"echo '(.*?)'\s*\\?\s*\|\s*\.venv/bin/python -m hub\.models ([\w-]+)", re.S)
HEREDOC = re.compile(r"cat <<'JSON' \| \.venv/bin/python -m hub\.models ([\w-]+)\n(.*?)\nJSON\n", re.S)
TOKEN = "ohs-token-0123456789"


def doc_examples() -> dict[str, list[dict]]:
    """name -> the JSON inputs of its doc examples, in the order they appear."""
    found: dict[str, list[dict]] = {}
    for doc in sorted(DOCS.glob("*.md")):
        text = doc.read_text(encoding="utf-8")
        pairs = [(name, payload) for payload, name in ECHO.findall(text)] + HEREDOC.findall(text)
        for name, payload in pairs:
            found.setdefault(name, []).append(json.loads(payload))
    return found


EXAMPLES = doc_examples()
MODELS = sorted(load_all())


def valid_example(name: str) -> dict:
    for payload in EXAMPLES.get(name, []):
        try:
            run_model(name, payload)
        except ModelInputError:
            continue
        return payload
    raise AssertionError(f"docs/models has no valid example for model {name!r}")


def _set(data: dict, path: str, value) -> dict:
    out = copy.deepcopy(data)
    node = out
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


#: One domain error per model: (path in the doc example, bad value, the field the error must name).
INVALID = {
    "epi": ("groups.0.cases", -1, "groups.0.cases"),
    "exposure-stats": ("samples.0.value", -5, "samples.0"),
    "noise-exposure": ("segments.0.hours", -2, "segments.0.hours"),
    "quantitative-risk": ("factor_groups.0.factors.0.norm", 0, "factor_groups.0.factors.0.norm"),
    "reproductive-risk": ("relative_risk", -1, "relative_risk"),
    "risk-group": ("criteria.c1", 7, "criteria.c1"),
    "risk-group-report": ("assessments.0.year", 1800, "assessments.0.year"),
    "risk-register": ("rows.0.hazard_level", 9, "rows.0.hazard_level"),
    "rt": ("window", 0, "window"),
    "score2": ("total_cholesterol_mmol_l", 212, "total_cholesterol_mmol_l"),
    "smoke-report": ("events.0.time", "not a time", "events.0.time"),
    "score": ("total_cholesterol_mmol_l", 232, "total_cholesterol_mmol_l"),
    "reproductive-signs": ("workplaces.0.women_workers", 2, "workplaces.0.women_workers"),
    "vaccination": ("workers.0.doses.0.date", "2030-01-01", "workers.0.doses.0.date"),
    "health-plan": ("birth_date", "2030-01-01", "birth_date"),
    "smoking-programme": ("violations.0.person", "nobody", "violations.0.person"),
    "fatigue-screening": ("answers.kss", 12, "answers.kss"),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapi") / "hub.db"
    config = HubConfig.model_validate({"storage": {"path": str(path)},
                                       "api": {"tokens": [{"token": TOKEN, "role": "ohs", "name": "ohs desk"}]}})
    store = Store(path)
    with TestClient(create_app(config, store), headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client
    store.close()


def test_every_registered_model_has_a_doc_example_and_an_invalid_case():
    assert set(MODELS) == set(INVALID), "add an INVALID case for every registered model"
    for name in MODELS:
        valid_example(name)


def test_listing_names_every_model_with_its_schema(client):
    items = client.get("/api/v1/models").json()["items"]
    assert [item["name"] for item in items] == MODELS
    assert all(item["input_schema"]["type"] == "object" for item in items)


@pytest.mark.parametrize("name", MODELS)
def test_rest_gives_the_same_json_as_python(client, name):
    for payload in EXAMPLES[name]:
        try:
            expected = run_model(name, payload)
        except ModelInputError as error:
            response = client.post(f"/api/v1/models/{name}", json=payload)
            assert response.status_code == 422 and response.json()["detail"]["field"] == error.field
            continue
        response = client.post(f"/api/v1/models/{name}", json=payload)
        assert response.status_code == 200, response.text
        assert response.json() == json.loads(json.dumps(expected))


@pytest.mark.parametrize("name", MODELS)
def test_invalid_input_is_422_naming_the_field(client, name):
    path, bad, field = INVALID[name]
    payload = _set(valid_example(name), path, bad)
    with pytest.raises(ModelInputError) as python_error:
        run_model(name, payload)
    response = client.post(f"/api/v1/models/{name}", json=payload)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["field"] == python_error.value.field
    assert detail["field"].startswith(field), detail
    assert field in detail["message"]


@pytest.mark.parametrize("name", MODELS)
def test_unknown_field_is_refused_by_name(client, name):
    payload = {**valid_example(name), "not_a_field": 1}
    response = client.post(f"/api/v1/models/{name}", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == "not_a_field"


def test_not_an_object_and_unknown_model(client):
    response = client.post("/api/v1/models/score2", json=[1, 2])
    assert response.status_code == 422 and response.json()["detail"]["field"]
    response = client.post("/api/v1/models/no-such-model", json={})
    assert response.status_code == 404 and "score2" in response.json()["detail"]


def test_models_need_a_token(tmp_path):
    config = HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db")}})
    store = Store(config.storage.path)
    try:
        with TestClient(create_app(config, store)) as anonymous:
            response = anonymous.post("/api/v1/models/score2", json=valid_example("score2"))
            assert response.status_code == 401
    finally:
        store.close()
