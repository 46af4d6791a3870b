"""requirements/lock.txt (``bash tools/lock.sh``), the versions CI installs, is in step with pyproject.toml:
every dependency of the [dev] set is pinned there, at a version its declared range allows."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.markers import default_environment
from packaging.utils import canonicalize_name

from tests.packaging.wheelhouse import PROJECT, wheel_requirements

LOCK = Path(__file__).resolve().parents[2] / "requirements" / "lock.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")


def pins(text: str) -> dict[str, str]:
    return {canonicalize_name(m.group(1)): m.group(2) for m in map(PIN.match, text.splitlines()) if m}


def test_every_declared_dependency_is_pinned_within_its_range(project_wheel):
    locked = pins(LOCK.read_text(encoding="utf-8"))
    environment = default_environment()
    problems = []
    for requirement in wheel_requirements(project_wheel):
        name = canonicalize_name(requirement.name)
        if name == PROJECT:
            continue
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({**environment, "extra": extra})
                for extra in ("", "edge", "hub", "sim", "demo", "dev")):
            continue  # not for this platform (e.g. atheris off x86-64)
        if name not in locked:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{requirement} but the lock pins {locked[name]}")
    assert not problems, "requirements/lock.txt is out of date, run: bash tools/lock.sh\n" + "\n".join(problems)


def test_the_pin_reader_reads_the_lock_format():
    assert pins("bleak==3.1.0\n    # via ohs-gate\npsycopg[binary]==3.3.9\n# comment\n") == {
        "bleak": "3.1.0", "psycopg": "3.3.9"}
