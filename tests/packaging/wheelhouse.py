"""Offline wheels for the packaging tests: this checkout's wheel, and the distributions installed in the test
environment packed back into wheels, so ``pip install --no-index --find-links`` can build a fresh venv per
extra without the package index (a test must not need the network) and pip's resolver still checks that the
extras' declared requirements are satisfiable and complete.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "ohs-gate"


#: not part of the source the wheel is built from (and build/ may hold stale copies of removed modules)
NOT_SOURCE = (".git", ".venv", "build", "dist", "var", "artifacts", "tests", "bench", "docs", "*.egg-info",
              "__pycache__", ".pytest_cache", ".hypothesis")


def build_project_wheel(out: Path) -> Path:
    """``pip wheel`` of a clean copy of this checkout (no dependencies, no build isolation: offline)."""
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("ohs_gate-*.whl")
    return wheel


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The ``Requires-Dist`` lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(name).decode("utf-8"))
    return [Requirement(line) for line in meta.get_all("Requires-Dist") or []]


def closure(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """Canonical names of the installed distributions that ``requirements`` with ``extras`` pull in."""
    environment = default_environment()
    wanted: list[tuple[Requirement, frozenset[str]]] = [(r, frozenset(extras | {""})) for r in requirements]
    done: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    while wanted:
        requirement, active = wanted.pop()
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({**environment, "extra": extra}) for extra in active):
            continue
        name = canonicalize_name(requirement.name)
        if name == PROJECT:  # ohs-gate[edge] inside another extra
            wanted.extend((r, frozenset(set(requirement.extras) | {""})) for r in requirements)
            continue
        key = (name, frozenset(requirement.extras))
        if key in done:
            continue
        done.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # pip reports it as missing from the wheelhouse, naming it
        names.add(name)
        nested = [Requirement(line) for line in dist.requires or []]
        wanted.extend((r, frozenset(set(requirement.extras) | {""})) for r in nested)
    return names


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def repack(name: str, out: Path) -> Path:
    """Pack the installed distribution ``name`` back into a wheel (its files under site-packages)."""
    dist = metadata.distribution(name)
    base = Path(dist.locate_file(""))
    info_dir = next(str(f).split("/")[0] for f in dist.files if str(f).split("/")[0].endswith(".dist-info"))
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    supported = {str(tag) for tag in sys_tags()}
    tag = next((t for t in tags if t in supported), "py3-none-any")  # e.g. py2.py3 wheels list both
    filename = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}-{tag}.whl"
    target = out / filename
    record = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in dist.files or []:
            relative = str(entry)
            if relative.startswith("..") or "__pycache__" in relative or relative == f"{info_dir}/RECORD":
                continue
            source = base / relative
            if not source.is_file():
                continue
            data = source.read_bytes()
            archive.writestr(relative, data)
            record.append(_record_line(relative, data))
        record.append(f"{info_dir}/RECORD,,")
        archive.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return target
