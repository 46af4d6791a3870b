"""docs/schemas/ must match the wire contract in code (regenerate: ohs-hub export-schemas)."""

from __future__ import annotations

import json
from pathlib import Path

from firmware_bridges.contract import json_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_exported_schemas_match_the_code():
    for name, schema in json_schemas().items():
        path = DOCS / f"{name}.schema.json"
        assert path.exists(), f"{path} missing: run ohs-hub export-schemas"
        assert json.loads(path.read_text()) == schema, f"{path} is stale: run ohs-hub export-schemas"
