#!/usr/bin/env bash
# Regenerate requirements/lock.txt, the exact versions CI installs (tests/run.sh passes it to pip as -c):
# the [dev] set (edge, hub, sim, demo and the test tools) resolved by uv for CPython 3.11 on x86-64 Linux.
#
#   bash tools/lock.sh            # after adding or changing a dependency in pyproject.toml
#   bash tools/lock.sh --upgrade  # move every pin to the newest allowed version
#
# uv is installed into .venv on first use. A constraints file only pins what it lists, so a dependency added
# to pyproject.toml and not yet locked still installs (unpinned) and tests/packaging/test_lock.py names it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/pip install -q 'uv>=0.5'
mkdir -p requirements
exec .venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
  --python-platform x86_64-unknown-linux-gnu --quiet --custom-compile-command 'bash tools/lock.sh' \
  -o requirements/lock.txt "$@"
