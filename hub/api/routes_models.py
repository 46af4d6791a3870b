"""``POST /api/v1/models/{name}``: the same JSON in and out as ``python -m hub.models <name>``.

Any role may run a model (anonymous callers only where ``api.anonymous_role`` is set). The body is
limited (``models_api.max_body_bytes``, 413), so are lists in it (``max_items``, 422), and the run
happens in a worker process with a timeout (:mod:`hub.api.model_pool`; 503 busy, 504 over time).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from hub.api.deps import Caller, any_role
from hub.api.model_pool import ModelPool
from hub.api.safe_json import finite
from hub.api.views_stats import ModelList, ModelResult
from hub.models.registry import ModelInputError, load_all


@asynccontextmanager
async def lifespan(app):
    yield
    pool = getattr(app.state, "model_pool", None)
    if pool is not None:
        pool.close()


router = APIRouter(prefix="/api/v1/models", tags=["models"], lifespan=lifespan)


class ModelInputProblem(BaseModel):
    field: str
    message: str


class ModelInputErrorBody(BaseModel):
    detail: ModelInputProblem


def get_pool(request: Request) -> ModelPool:
    pool = getattr(request.app.state, "model_pool", None)
    if pool is None:
        pool = request.app.state.model_pool = ModelPool(request.app.state.config.models_api)
    return pool


@router.get("", summary="The models this hub can run", response_model=ModelList)
def list_models(caller: Caller = Depends(any_role)) -> dict:
    return {"items": [{"name": s.name, "summary": s.summary, "input_schema": s.input_model.model_json_schema()}
                      for s in sorted(load_all().values(), key=lambda s: s.name)]}


@router.post(
    "/{name}", summary="Run one model on the JSON body", response_model=ModelResult, response_model_exclude_unset=True,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "the model's input; its schema is in GET /api/v1/models"}}}}},
    responses={422: {"model": ModelInputErrorBody, "description": "input the model cannot use; names the field"},
               413: {"description": "body over models_api.max_body_bytes"},
               503: {"description": "the model workers are busy"}, 504: {"description": "over models_api.timeout_s"}},
)
async def run(name: str, request: Request, caller: Caller = Depends(any_role)) -> dict:
    if name not in load_all():
        raise HTTPException(404, f"unknown model {name!r}; known: {', '.join(sorted(load_all()))}")
    body = await request.body()  # the body-size limit applies while reading (hub.api.limits)
    try:
        return finite(await get_pool(request).run(name, body))
    except ModelInputError as error:
        raise HTTPException(422, {"field": error.field, "message": str(error)}) from None
