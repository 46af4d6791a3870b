"""``POST /api/v1/models/{name}``: the same JSON in and out as ``python -m hub.models <name>``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException

from hub.api.deps import Caller, get_caller
from hub.models.registry import ModelInputError, load_all, run_model

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("", summary="The models this hub can run")
def list_models(caller: Caller = Depends(get_caller)) -> dict:
    return {"items": [{"name": s.name, "summary": s.summary, "input_schema": s.input_model.model_json_schema()}
                      for s in sorted(load_all().values(), key=lambda s: s.name)]}


@router.post("/{name}", summary="Run one model on the JSON body")
def run(name: str, payload: Any = Body(...), caller: Caller = Depends(get_caller)) -> dict:
    if name not in load_all():
        raise HTTPException(404, f"unknown model {name!r}; known: {', '.join(sorted(load_all()))}")
    try:
        return run_model(name, payload)
    except ModelInputError as error:
        raise HTTPException(422, {"field": error.field, "message": str(error)}) from None
