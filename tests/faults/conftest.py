"""Fixtures of the fault suite: a registry of started parts (stopped at the end) and the seeded RNG."""

from __future__ import annotations

import random

import pytest

from tests.faults.harness import Parts, seed_from_env


@pytest.fixture
def parts(tmp_path):
    registry = Parts(tmp_path)
    yield registry
    registry.close()


@pytest.fixture
def rng() -> random.Random:
    seed = seed_from_env()
    generator = random.Random(seed)
    generator.fault_seed = seed  # written to the scenario's artifact
    return generator
