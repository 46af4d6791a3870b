"""Response models of ``/api/v1/analytics/…`` and ``/api/v1/alarms/…`` (hub.api.routes_analytics,
hub.api.routes_alarms; docs/ohs-analytics.md).

Every analysis answer is an aggregate and every top-level key is named (:class:`Closed`): the
envelope (which analysis, with which parameters, when computed), the analysis's own blocks and,
for ohs and admin, ``privacy`` (small cells suppressed by hub.analytics.privacy). The blocks inside
are the analyses' tables and stay as they compute them. The same model serves every role: the
role changes which cells are null, not which keys exist — except ``/noise/workers``, keyed by
worker, which only the medic reaches.
"""

from __future__ import annotations

from typing import Any

from hub.api.views_base import Closed, Json

Number = int | float


class AnalysisState(Closed):
    name: str
    computed_at: str | None
    duration_s: Number | None
    error: str | None


class RunnerState(Closed):
    running: bool
    interval_s: Number
    runs: int
    last_run: Json | None


class AnalyticsSettingsView(Closed):
    timezone: str
    lookback_days: int
    exposed_threshold_db: Number


class AnalyticsIndex(Closed):
    items: list[AnalysisState]
    runner: RunnerState
    settings: AnalyticsSettingsView


class PrivacyNote(Closed):
    """Present for ohs and admin: how many cells were hidden and by which rule."""

    view: str
    min_cell_size: int
    suppressed_cells: int
    rule: str | None = None


class NonFinite(Closed):
    """Numbers JSON cannot carry (NaN, ±Infinity), served as null: where and why (hub.api.safe_json)."""

    count: int
    fields: list[str]
    reason: str


class _Analysis(Closed):
    """The envelope of every analysis answer."""

    analysis: str
    params: Json
    computed_at: str
    precomputed: bool
    privacy: PrivacyNote | None = None
    non_finite: NonFinite | None = None
    period: Json | None = None
    method: str | None = None
    note: str | None = None


class NoiseZones(_Analysis):
    interval_minutes: Number | None = None
    zones: list[Json] | None = None
    alarms: list[Json] | None = None
    skipped_invalid: Json | None = None


class NoiseWorkers(_Analysis):
    """L_EX,8h per worker (medic only)."""

    workers: list[Json] | None = None


class SmokeViolations(_Analysis):
    report_period: str | None = None
    sites: list[Json] | None = None
    total_violations: int | None = None
    total_alarms: int | None = None
    skipped_invalid: Json | None = None


class _Epi(_Analysis):
    exams: int | None = None
    unit: str | None = None
    worker_day_reading: Any = None
    thresholds: Json | None = None


class EpiFebrile(_Epi):
    febrile_by_day_site: list[Json] | None = None
    febrile_daily: Json | None = None


class EpiAlcohol(_Epi):
    alcohol_by_site_shift: list[Json] | None = None
    alcohol_daily: list[Json] | None = None


class EpiBloodPressure(_Epi):
    bp_by_site: list[Json] | None = None
    bp_daily: list[Json] | None = None


class RtFebrile(_Analysis):
    case_definition: str | None = None
    window_days: int | None = None
    burn_in_days: int | None = None
    sites: list[Json] | None = None


class HypertensionNoise(_Analysis):
    definition: Json | None = None
    excluded_workers: Json | None = None
    counts: Json | None = None
    comparison: Json | None = None
    confidence: Number | None = None
    groups: list[Json] | None = None
    rr: Json | None = None


class Alarm(Closed):
    """An alarm (noise over limit, Rt warning, smoke violation) with who acknowledged and cleared it."""

    id: int
    kind: str
    key: str
    site: str | None
    location: str | None
    day: str | None
    severity: str
    first_seen: str
    last_seen: str
    message_ru: str
    message_en: str
    details: Json
    acknowledged_by: str | None
    acknowledged_at: str | None
    cleared_by: str | None
    cleared_at: str | None
    notes: list[Json]
    state: str


class AlarmPage(Closed):
    items: list[Alarm]
    total: int
    by_kind: dict[str, int]
    limit: int
    offset: int
    non_finite: NonFinite | None = None
