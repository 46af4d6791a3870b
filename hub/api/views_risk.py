"""Response models of the risk-group routes (seed 004; hub.api.routes_risk) and the risk register
(seed 002; hub.api.routes_register).

An assessment is the medic's (criteria, diagnoses, the model's derivation): :class:`Assessment`
documents its keys and passes the model's own blocks on. The report, which ohs and admin read, is
closed: its collective-agreement block names no worker (the ids the model returns are removed in
hub.risk_assessments.report, and :class:`CollectiveAgreement` has no place for them).
"""

from __future__ import annotations

from hub.api.views_base import Closed, Json, Passed

Number = int | float


class Assessment(Passed):
    """One risk-group assessment: the model's proposal and the physician's decision, both kept (medic)."""

    id: int
    worker_id: str
    year: int
    exam: str
    nosology: str | None
    assessed_at: str
    input: Json
    criteria_groups: dict[str, int]
    c7: bool
    c8: bool
    score: int
    proposed_group: int
    final_group: int | None
    group: int
    decision: str | None
    physician: str | None
    reason: str | None
    decided_at: str | None
    status: str
    created_at: str
    created_by: str
    result: Json | None = None
    plan: Json | None = None


class WorkerAssessments(Closed):
    worker_id: str
    items: list[Assessment]
    total: int


class CollectiveAgreement(Closed):
    """Seed 004 provisions for the collective agreement: how many workers are in the high groups, not who."""

    year: int
    high_groups: list[int]
    workers_in_high_groups: int | None
    note: str
    suppressed: bool | None = None


class PrivacyNote(Closed):
    view: str
    min_cell_size: int
    suppressed_cells: int
    rule: str | None = None


class RiskGroupReport(Closed):
    """Distribution by final group, enterprise average score, dynamics by year: aggregates only."""

    workers: int
    assessments: int
    years: dict[str, Json]
    enterprise_average_score: dict[str, Number | None]
    dynamics: list[Json]
    distribution_latest_year: Json | None
    source: str
    collective_agreement: CollectiveAgreement | None = None
    measures_by_group: dict[str, Json] | None = None
    group_basis: str | None = None
    average_basis: str | None = None
    privacy: PrivacyNote | None = None


class RegisterChange(Closed):
    version: int
    change: str
    changed_by: str
    role: str
    changed_at: str


class RegisterRow(Closed):
    """One register row as stored (fields 1-18 of seed 002 under ``row``) with its change history."""

    id: int
    site: str
    version: int
    row: Json
    updated_by: str
    updated_at: str
    retired_at: str | None
    history: list[RegisterChange]


class RegisterEvaluation(Closed):
    """The register evaluated by the risk-register model: rows with scores and verdicts, ranking, the matrix."""

    rows: list[Json]
    ranking: list[Json]
    summary: Json
    matrix: Json
    as_of: str
    source: str
    settings: Json | None = None

