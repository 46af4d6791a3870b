"""Every JSON route of the hub declares its response as pydantic models (issue 12), so the OpenAPI
schema documents each answer and a handler cannot hand back a key its model does not name; routes
that answer with a file (CSV, PDF, FHIR) document their media types instead."""

from __future__ import annotations

import types
import typing

from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from hub.api.views_base import Closed
from tests.api_hardening.ah_helpers import hub_client

#: media types a route may answer with instead of JSON (docs/exports.md)
FILE_TYPES = {"text/csv", "application/pdf", "application/fhir+json"}


def model_leaves(annotation) -> list:
    """The types a response annotation is built from (through Annotated, unions and lists)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return model_leaves(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        return [leaf for arg in typing.get_args(annotation) for leaf in model_leaves(arg)]
    return [annotation]


def is_model(leaf) -> bool:
    return isinstance(leaf, type) and issubclass(leaf, BaseModel)


def api_routes(app) -> list:
    """Every API route of the app as included (with its router's prefix and settings)."""
    return [r for r in iter_route_contexts(app.routes)
            if isinstance(r.original_route, APIRoute) and r.include_in_schema]


def response_class(route) -> type:
    chosen = route.response_class
    return chosen.value if isinstance(chosen, DefaultPlaceholder) else chosen


def test_every_json_route_declares_pydantic_response_models(tmp_path):
    with hub_client(tmp_path) as (_, app):
        routes = api_routes(app)
        assert len(routes) >= 50, "the walk must see the whole API"
        untyped, undocumented_files = [], []
        for route in routes:
            name = f"{','.join(sorted(route.methods))} {route.path}"
            if not issubclass(response_class(route), JSONResponse):
                content = route.responses.get(200, {}).get("content", {})
                if not content or not set(content) <= FILE_TYPES | {"text/csv; charset=utf-8"}:
                    undocumented_files.append(name)
                continue
            leaves = model_leaves(route.response_model) if route.response_model is not None else [None]
            if not all(is_model(leaf) for leaf in leaves):
                untyped.append(f"{name}: {route.response_model!r}")
        assert not untyped, f"JSON routes without a pydantic response model: {untyped}"
        assert not undocumented_files, f"file routes without their media types: {undocumented_files}"


def test_the_openapi_schema_documents_every_success_answer(tmp_path):
    with hub_client(tmp_path) as (client, _):
        spec = client.get("/openapi.json").json()
        missing = []
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                ok = next(code for code in operation["responses"] if code.startswith("2"))
                content = operation["responses"][ok].get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if schema is None:
                    if not set(content) & FILE_TYPES:
                        missing.append(f"{method.upper()} {path}")
                elif schema == {} or schema.get("type") == "object" and "$ref" not in schema \
                        and "properties" not in schema:
                    missing.append(f"{method.upper()} {path} (untyped object)")
        assert not missing, f"answers the OpenAPI schema does not describe: {missing}"


def test_a_closed_model_refuses_a_key_it_does_not_name(tmp_path):
    """The construction the OHS views rely on: an unnamed key (a measured value) makes the answer fail
    instead of reaching the caller."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    class Outcome(Closed):
        worker_id: str
        outcome: str

    app = FastAPI()

    @app.get("/leak", response_model=Outcome)
    def leak() -> dict:
        return {"worker_id": "W1", "outcome": "admitted", "systolic_mmhg": 150}

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/leak")
    assert response.status_code == 500 and "150" not in response.text
