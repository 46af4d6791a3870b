"""Response models of the worker registry, vaccination and smoking routes (hub.api.routes_workers,
routes_vaccination, routes_smoking).

The vaccination picture is the one place here where the role changes the shape: the medic gets
statuses, due and overdue lists and incidence (:class:`VaccinationPicture`), ohs and admin the
coverage tables only, small cells hidden (:class:`VaccinationCoverage`, closed: a per-worker list
cannot pass through it). The smoking programme, which ohs reads, is closed as well.
"""

from __future__ import annotations

from hub.api.views_base import Closed, Json, Passed

Number = int | float


class WorkersStored(Closed):
    stored: int
    sites: list[str]


class WorkerRow(Closed):
    personnel_number: str
    site: str
    full_name: str
    retired_at: str | None


class WorkerList(Closed):
    items: list[WorkerRow]
    limit: int
    offset: int


class NormRecord(Closed):
    """Who proposed and approved an individual norm, and when (what the admin sees: no values)."""

    id: int
    personnel_number: str
    n_readings: int
    computed_from: str
    computed_to: str
    proposed_by: str
    proposed_at: str
    approved_by: str | None
    approved_at: str | None
    withdrawn_at: str | None


class Norm(NormRecord):
    """An individual norm proposed from the worker's admitted exams; in force once approved (medic)."""

    systolic_mmhg: Number | None
    diastolic_mmhg: Number | None
    pulse_bpm: Number | None


class AdminWorkerCard(Closed):
    """The worker card as the admin sees it: the registry entry and the norms' history without their
    values (individual medical values are for the medic only: 323-FZ art. 13)."""

    personnel_number: str
    site: str
    full_name: str
    birth_date: str | None
    sex: str | None
    unit: str | None
    groups: list[str]
    badges: list[str]
    updated_by: str
    updated_at: str
    retired_at: str | None
    age: int | None
    norms: list[NormRecord]
    norm_in_force: NormRecord | None


class WorkerCard(AdminWorkerCard):
    """The worker card (medic): registry entry, age, the norm in force and its history; no PIN hash."""

    norms: list[Norm]
    norm_in_force: Norm | None


class HealthPlan(Passed):
    """The worker's health plan (medic; audited): the health-plan model's answer (docs/models/health-plan.md)."""

    worker: str
    full_name: str | None
    as_of: str
    confidential: bool
    plan: list[Json]
    export_rows: list[Json]
    source: str


class CoverageRow(Closed):
    """Coverage of one vaccine (over all, per site or per group); counts null where suppressed."""

    vaccine: str
    applicable: int
    covered: int | None
    in_series: int | None
    due: int | None
    overdue: int | None
    exempt: int | None
    coverage: Number | None
    coverage_lower: Number | None
    coverage_upper: Number | None
    all: str | None = None
    site: str | None = None
    group: str | None = None
    suppressed: bool | None = None


class CoveragePrivacy(Closed):
    view: str
    min_cell_size: int
    suppressed_cells: int


class VaccinationCoverage(Closed):
    """Vaccination as ohs and admin see it: coverage tables only, small cells hidden; no worker is named."""

    coverage: list[CoverageRow]
    coverage_by_site: list[CoverageRow]
    coverage_by_group: list[CoverageRow]
    as_of: str
    calendar: Json
    source: str
    privacy: CoveragePrivacy


class VaccinationPicture(Passed):
    """Vaccination as the medic sees it (audited): status per worker and vaccine, due and overdue lists,
    coverage, and incidence among vaccinated and unvaccinated when cases are recorded."""

    as_of: str
    statuses: list[Json]
    due: list[Json]
    overdue: list[Json]
    coverage: list[Json]
    coverage_by_site: list[Json]
    coverage_by_group: list[Json]
    calendar: Json
    source: str
    without_birth_date: list[str]
    incidence: list[Json] | None = None


class VaccinationRecord(Closed):
    id: int
    personnel_number: str
    kind: str
    vaccine: str | None
    disease: str | None
    on_date: str
    reason: str | None
    until: str | None
    note: str | None
    recorded_by: str
    recorded_at: str


class VaccinationRecords(Closed):
    worker: str
    items: list[VaccinationRecord]


class Participant(Closed):
    """A worker's smoking status in the programme (medic only)."""

    personnel_number: str
    status: str
    quit_date: str | None
    quit_confirmed: int
    enrolled_on: str | None
    updated_by: str
    updated_at: str


class Attribution(Closed):
    site: str
    location: str
    start: str
    personnel_number: str
    attributed_by: str


class SmokingProgramme(Closed):
    """Reminders, proposed penalties and incentives for the period (ohs, medic, admin): names and counts,
    no smoking status beyond the programme's own lines."""

    period: Json
    violations: int
    attributed: int
    by_location: list[Json]
    by_unit: list[Json]
    reminders: list[Json]
    penalties: list[Json]
    incentives: list[Json]
    incentives_total: Number
    currency: str
    participants: Json
    rules: Json
    note: str
    source: str
    unattributed_to_participants: int

