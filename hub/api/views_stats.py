"""Response models of ``/api/v1/stats/exams`` (hub.api.routes_stats) and ``/api/v1/models``
(hub.api.routes_models). Stats are outcome counts (what OHS sees row by row), never a value;
a model's answer is computed from the caller's own input, not from stored records.
"""

from __future__ import annotations

from typing import Any

from hub.api.views_base import Closed, Json, Passed


class Period(Closed):
    date_from: str
    date_to: str


class StatsFilters(Closed):
    site: str | None
    kiosk: str | None
    exam_type: str | None


class OutcomeCounts(Closed):
    total: int
    admitted: int
    not_admitted: int
    needs_medic: int


class DayCounts(OutcomeCounts):
    date: str


class KioskCounts(OutcomeCounts):
    kiosk: str


class ExamStats(Closed):
    """Exams and their final outcomes per day and per kiosk: counts only."""

    period: Period
    filters: StatsFilters
    outcome_basis: str
    total: OutcomeCounts
    by_day: list[DayCounts]
    by_kiosk: list[KioskCounts]


class ModelInfo(Closed):
    name: str
    summary: str
    input_schema: Json


class ModelList(Closed):
    items: list[ModelInfo]


class ModelResult(Passed):
    """A model's output as ``python -m hub.models <name>`` prints it (its keys are the model's own;
    see ``docs/models/``); non-finite numbers are null and listed under ``non_finite``."""

    non_finite: Any = None
