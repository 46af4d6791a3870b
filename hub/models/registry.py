"""Registry of the hub's models: one name, one pydantic input schema, one pure function.

Each model module in ``hub/models/`` registers itself with :func:`register`; the CLI
(``python -m hub.models <name>``) and the REST API (``POST /api/v1/models/<name>``) both
call :func:`run_model`, so the three ways of running a model take and give the same JSON.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class ModelInputError(ValueError):
    """Input a model cannot score. ``field`` names the offending input field (dotted path)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[ModelInputError], tuple[str, str]]:  # survives pickling (model runs happen in worker processes)
        return type(self), (self.field, self.message)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_model: type[BaseModel]
    function: Callable[[Any], dict[str, Any]]
    summary: str


MODELS: dict[str, ModelSpec] = {}


_ModelFunction = TypeVar("_ModelFunction", bound=Callable[[Any], dict[str, Any]])


def register(name: str, input_model: type[BaseModel]) -> Callable[[_ModelFunction], _ModelFunction]:
    """Decorator: register ``function(validated_input) -> dict`` under ``name``."""

    def decorate(function: _ModelFunction) -> _ModelFunction:
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


def check_payload(payload: Any, max_items: int | None = None, path: str = "") -> None:
    """Refuse NaN and ±Infinity anywhere in the input (JSON has neither; Python's json reads both) and,
    when ``max_items`` is given, any list or object with more items. Raises :class:`ModelInputError`."""
    where = path or "(input)"
    if isinstance(payload, float) and not math.isfinite(payload):
        raise ModelInputError(where, f"{payload} is not a number a model can use (NaN and ±Infinity are refused)")
    if not isinstance(payload, (dict, list, tuple)):
        return
    if max_items is not None and len(payload) > max_items:
        raise ModelInputError(where, f"{len(payload)} items; at most {max_items} are accepted (models_api.max_items)")
    items = payload.items() if isinstance(payload, dict) else enumerate(payload)
    for key, value in items:
        check_payload(value, max_items, f"{path}.{key}" if path else str(key))


def run_model(name: str, payload: Any, *, max_items: int | None = None) -> dict[str, Any]:
    """Validate ``payload`` against the model's schema and run it.

    Raises ``KeyError`` for an unknown model and :class:`ModelInputError` for invalid input
    (NaN/±Infinity anywhere, a list longer than ``max_items``, a schema violation, or valid-looking
    numbers the model cannot compute with: an arithmetic or value error inside the model).
    """
    specs = load_all()
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(specs))}")
    spec = specs[name]
    try:
        check_payload(payload, max_items)
        validated = spec.input_model.model_validate(payload)
    except RecursionError:
        raise ModelInputError("(input)", "the input is nested too deeply") from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(input)"
        raise ModelInputError(field, format_validation_error(error)) from None
    try:
        return spec.function(validated)
    except ModelInputError:
        raise
    except (ArithmeticError, ValueError) as error:  # e.g. 1e308 minutes: no timedelta holds it
        log.warning("model %s cannot compute with its input", name, exc_info=True)
        raise ModelInputError("(input)", f"the model cannot compute with these values "
                                         f"({type(error).__name__}: {error})") from None


def model_names() -> list[str]:
    """The registered models' names (loading them): a cheap first task for a new worker process."""
    return sorted(load_all())


def run_model_json(name: str, text: str | bytes, *, max_items: int | None = None) -> dict[str, Any]:
    """:func:`run_model` on JSON text: what the REST API's worker processes run."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelInputError("(input)", f"the body is not valid JSON: {error}") from None
    return run_model(name, payload, max_items=max_items)
