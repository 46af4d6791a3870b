"""Session fixtures of the packaging tests: the project's wheel, and an offline wheelhouse for its extras."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.wheelhouse import build_project_wheel, closure, repack, wheel_requirements

#: every extra a machine installs (dev adds only test tools)
EXTRAS = ("edge", "hub", "sim", "demo")


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory) -> Path:
    return build_project_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def wheelhouse(project_wheel, tmp_path_factory) -> Path:
    """The project's wheel plus every distribution its extras need, repacked from the test environment."""
    house = tmp_path_factory.mktemp("wheelhouse")
    (house / project_wheel.name).write_bytes(project_wheel.read_bytes())
    for name in sorted(closure(wheel_requirements(project_wheel), set(EXTRAS))):
        repack(name, house)
    return house
