"""The layers stay apart: the hub never imports the kiosk, the kiosk never imports the hub, and the
shared device/contract package imports neither (nor the simulators and the demo).

The graph is read statically from every ``import`` statement, including imports inside functions
(a lazy import is still a dependency), and followed transitively; importing ``a.b.c`` also runs
``a/__init__.py`` and ``a/b/__init__.py``, so parents count too.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("edge_agent", "hub", "firmware_bridges", "simulators", "ohs_demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


MODULES = _modules()


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & MODULES.keys()


@cache
def _direct_imports(name: str) -> frozenset[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            found |= _with_parents(target)
    return frozenset(found - {name})


@cache
def reachable(name: str) -> frozenset[str]:
    """Every project module that importing ``name`` can import, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for target in _direct_imports(current) | _with_parents(current):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(seen - {name})


def _offenders(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for name in sorted(MODULES):
        if name == package or name.startswith(package + "."):
            hits = sorted(m for m in reachable(name) if m.split(".")[0] in forbidden)
            if hits:
                bad[name] = hits
    return bad


@pytest.mark.parametrize(("package", "forbidden"), [
    ("hub", ("edge_agent", "simulators", "ohs_demo")),
    ("edge_agent", ("hub", "simulators", "ohs_demo")),
    ("firmware_bridges", ("hub", "edge_agent", "simulators", "ohs_demo")),
])
def test_package_never_reaches_the_forbidden_layers(package, forbidden):
    assert _offenders(package, forbidden) == {}


def test_the_graph_reader_sees_lazy_relative_and_transitive_imports():
    """The checker must be able to fail: the demo package, which starts kiosks, reaches the kiosk."""
    assert "edge_agent.runtime" in reachable("ohs_demo.demo")  # lazy import inside a function, via simulators
    assert _offenders("ohs_demo", ("edge_agent",))
    assert "hub.service" in reachable("ohs_demo.demo")
