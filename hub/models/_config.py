"""Loader for the models' configuration tables (TOML files in ``configs/models/``).

Every value a source document does not print is configuration, never a constant in
code (architecture.md, "Models"). This module is shared by all model modules:

* :func:`load_table` reads ``<config dir>/<name>.toml`` once and caches the parsed dict
  (the result is a deep-frozen copy, so a caller cannot change the cached table by
  accident);
* :func:`config_dir` is ``$OHS_MODELS_CONFIG_DIR`` if set, else ``configs/models/`` at
  the repository root;
* :func:`merged` overlays a (validated) per-request override on a table, the way a
  model lets one request try other scales or thresholds without editing the file;
* :func:`clear_cache` drops the cache (tests that write their own tables use it).

Reading a config table is the only I/O a model function may do.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from firmware_bridges.configfile import ConfigError as FileConfigError
from firmware_bridges.configfile import load_toml, shipped_config

ENV_VAR = "OHS_MODELS_CONFIG_DIR"
_DEFAULT_DIR = shipped_config("models")


class ConfigError(RuntimeError):
    """A configuration table is missing or malformed (a deployment error, not bad input)."""


def config_dir() -> Path:
    """Directory that holds the model tables."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else _DEFAULT_DIR


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable (and JSON-serialisable) copy of a frozen table or part of one."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


def thaw_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`thaw` of a whole table: a plain dict."""
    plain: dict[str, Any] = thaw(table)  # a Mapping thaws to a dict
    return plain


@lru_cache(maxsize=64)
def _load(path: str) -> Mapping[str, Any]:
    try:
        table: Mapping[str, Any] = _freeze(load_toml(path))  # a dict frozen to a MappingProxyType
        return table
    except FileConfigError as error:  # one loader for every TOML file (firmware_bridges.configfile)
        raise ConfigError(f"model configuration table: {error}") from None


def load_table(name: str) -> Mapping[str, Any]:
    """The parsed table ``configs/models/<name>.toml`` (read-only mapping, cached)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"invalid configuration table name {name!r}")
    return _load(str(config_dir() / f"{name}.toml"))


def clear_cache() -> None:
    """Forget every cached table (after changing files or ``$OHS_MODELS_CONFIG_DIR``)."""
    _load.cache_clear()


def merged(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep merge: ``override`` wins key by key; nested tables merge, lists replace."""
    result = thaw_table(base)
    if not override:
        return result
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = thaw(value)
    return result


def require(table: Mapping[str, Any], dotted: str) -> Any:
    """``table[a][b]…`` for ``"a.b…"``, with a :class:`ConfigError` naming the missing key."""
    node: Any = table
    walked = []
    for part in dotted.split("."):
        walked.append(part)
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"configuration key {'.'.join(walked)!r} is missing")
        node = node[part]
    return node
