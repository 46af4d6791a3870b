"""Which requirements of an install extra are absent, read from the installed package metadata.

Used by ``ohs-demo`` to refuse with a clear message (``pip install 'ohs-gate[demo]'``) instead
of failing in a child process. Only presence is checked: pip enforced the versions at install;
requirements with a platform marker besides the extra are not evaluated and are skipped.
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "ohs-gate"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""^extra\s*==\s*["']([^"']+)["']$""")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extra: str, distribution: str = DISTRIBUTION) -> list[str]:
    """Distribution names an extra pulls in, with extras of the same package expanded (``ohs-gate[edge]``)."""
    declared = metadata.requires(distribution) or []
    own = _canonical(distribution)
    wanted, seen, names = [extra], set(), []
    while wanted:
        current = wanted.pop()
        if current in seen:
            continue
        seen.add(current)
        for line in declared:
            requirement, _, marker = line.partition(";")
            match = _EXTRA_MARKER.match(marker.strip())
            if match is None or match.group(1) != current:
                continue
            name_match = _NAME.match(requirement)
            if name_match is None:
                continue
            name, extras = name_match.group(1), name_match.group(2)
            if _canonical(name) == own:
                wanted.extend(e.strip() for e in (extras or "").split(",") if e.strip())
            elif name not in names:
                names.append(name)
    return names


def missing(extra: str, distribution: str = DISTRIBUTION) -> list[str]:
    """The requirements of ``extra`` that are not installed; empty when running from a checkout
    without installed metadata (nothing to compare against)."""
    try:
        names = requirements(extra, distribution)
    except metadata.PackageNotFoundError:
        return []
    absent = []
    for name in names:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return absent
