"""Load a TOML configuration file into a pydantic model with errors a person can act on.

The one TOML loader of the project, shared by the kiosk (``edge_agent``), the hub, the device
bridges and the simulators: every error names the file, the key (dotted path) and what is
wrong, e.g. ``kiosk.toml: mqtt.port: Input should be less than or equal to 65535 (got 70000)``.
:func:`load_toml` reads a document (file and syntax errors; :func:`parse_toml` for text from
elsewhere), :func:`validate_model` checks it against a pydantic model (key errors),
:func:`load_toml_model` does both.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names file, key and problem."""


def describe_validation_error(source: str, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        got = problem.get("input")
        shown = "" if problem["type"] == "missing" or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{source}: {key}: {problem['msg']}{shown}")
    return "\n".join(lines)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read ``path`` as a TOML document; raise ConfigError naming the file and what is wrong with it
    (missing, unreadable, not UTF-8, not valid TOML with line and column)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration file: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    return parse_toml(text, path)


def parse_toml(text: str, source: str | Path) -> dict[str, Any]:
    """Parse TOML ``text`` that came from ``source`` (a file, or e.g. a config pushed over MQTT);
    raise ConfigError naming the source, line and column of a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None


def validate_model(source: str | Path, data: Any, model: type[Model]) -> Model:
    """Validate ``data`` read from ``source`` as ``model``; raise ConfigError naming source, key and problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(str(source), error)) from None


def load_toml_model(path: str | Path, model: type[Model]) -> Model:
    """Read ``path`` as TOML and validate it as ``model``; raise ConfigError on any problem."""
    return validate_model(path, load_toml(path), model)


#: ``configs/`` of the repository ships inside the wheel as this package (pyproject.toml, package-dir)
SHIPPED_CONFIGS_PACKAGE = "ohs_gate_configs"


def shipped_config(*parts: str) -> Path:
    """A file of the shipped configuration (``configs/…``): the checkout's folder when running from
    one, else the copy installed with the package, so a regular (non-editable) install run from any
    folder finds the rule set and the model tables. Deployments override them by path in their own
    configuration (e.g. ``$OHS_MODELS_CONFIG_DIR``)."""
    checkout = Path(__file__).resolve().parents[1] / "configs"
    if checkout.is_dir():
        return checkout.joinpath(*parts)
    import importlib.util

    spec = importlib.util.find_spec(SHIPPED_CONFIGS_PACKAGE)  # a data-only (namespace) package
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the shipped configuration ({SHIPPED_CONFIGS_PACKAGE}) is not installed; "
                          "reinstall the ohs-gate package")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
