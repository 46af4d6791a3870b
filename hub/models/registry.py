"""Registry of the hub's models: one name, one pydantic input schema, one pure function.

Each model module in ``hub/models/`` registers itself with :func:`register`; the CLI
(``python -m hub.models <name>``) and the REST API (``POST /api/v1/models/<name>``) both
call :func:`run_model`, so the three ways of running a model take and give the same JSON.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ValidationError


class ModelInputError(ValueError):
    """Input a model cannot score. ``field`` names the offending input field (dotted path)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_model: type[BaseModel]
    function: Callable[[Any], dict]
    summary: str


MODELS: dict[str, ModelSpec] = {}


def register(name: str, input_model: type[BaseModel]) -> Callable:
    """Decorator: register ``function(validated_input) -> dict`` under ``name``."""

    def decorate(function: Callable[[Any], dict]) -> Callable[[Any], dict]:
        if name in MODELS and MODELS[name].function is not function:
            raise RuntimeError(f"model name {name!r} registered twice")
        summary = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else name
        MODELS[name] = ModelSpec(name, input_model, function, summary)
        return function

    return decorate


_LOADED = False


def load_all() -> dict[str, ModelSpec]:
    """Import every module of the ``hub.models`` package so that each registers itself."""
    global _LOADED
    if not _LOADED:
        import hub.models as package

        for info in pkgutil.iter_modules(package.__path__):
            if info.name not in {"registry", "__main__"} and not info.name.startswith("_"):
                importlib.import_module(f"hub.models.{info.name}")
        _LOADED = True
    return MODELS


def format_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field by its dotted path."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(input)"
        lines.append(f"{path}: {problem['msg']}")
    return "; ".join(lines)


def run_model(name: str, payload: Any) -> dict:
    """Validate ``payload`` against the model's schema and run it.

    Raises ``KeyError`` for an unknown model and :class:`ModelInputError` for invalid input.
    """
    specs = load_all()
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(specs))}")
    spec = specs[name]
    try:
        validated = spec.input_model.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(input)"
        raise ModelInputError(field, format_validation_error(error)) from None
    return spec.function(validated)
