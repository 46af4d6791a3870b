"""Input and output of the admission pre-decision (pydantic models).

The JSON field names are a contract (issue 5): ``exam_type``, ``attempts`` (each with
``minute`` and the shared reading names of ``firmware_bridges.readings``),
``individual_norm``, ``complaints``; output ``outcome``, ``fired`` (``rule``, ``source``,
``value``), ``retest_not_before_minute``, ``rule_set_version``. Other fields are additions.

An attempt holds only what was measured at that minute. A reading field that is present
with ``null`` was measured but the device gave no valid value; a field named in
``invalid`` (``{"field": "why"}``, as ``Reading.invalid``) is device-flagged. The kiosk
workflow maps device status bits that spoil a measurement (cuff loose, body movement,
improper position, blow error, calibration overdue, BCI invalid code) to ``invalid``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from firmware_bridges.readings import VitalField

from .rules import GROUP_FIELDS, ExamType

#: The vital signs (firmware_bridges.readings.VitalField) and the oximeter's own pulse and perfusion index.
ReadingField = Literal[VitalField, "oximeter_pulse_bpm", "perfusion_index_percent"]

#: The fields that make a measurement of a group (helpers such as the oximeter pulse do not).
MEASURED_FIELDS: tuple[str, ...] = tuple(f for fields in GROUP_FIELDS.values() for f in fields)

Outcome = Literal["admitted", "not_admitted", "needs_medic", "retest", "remeasure"]
Effect = Literal["info", "retest", "remeasure", "needs_medic", "not_admitted", "ignored"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Attempt(_In):
    """One round of measurements at ``minute`` (minutes since the exam started)."""

    minute: float = Field(ge=0)
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None
    pulse_bpm: float | None = None
    temperature_c: float | None = None
    spo2_percent: float | None = None
    brac_mg_l: float | None = None
    oximeter_pulse_bpm: float | None = Field(default=None, description="pulse from the oximeter, cross-checked with the cuff")
    perfusion_index_percent: float | None = Field(default=None, description="oximeter perfusion index, if the device gives it")
    invalid: dict[ReadingField, str] = Field(default_factory=dict, description="field -> why the device marked it invalid")

    @model_validator(mode="after")
    def _shape(self) -> "Attempt":
        present = self.present()
        if not any(f in present for f in MEASURED_FIELDS):
            raise ValueError("an attempt must contain at least one measurement (" + ", ".join(MEASURED_FIELDS) + ")")
        bp = [f for f in GROUP_FIELDS["bp"] if f in present]
        if len(bp) == 1:
            other = "diastolic_mmhg" if bp[0] == "systolic_mmhg" else "systolic_mmhg"
            raise ValueError(f"{bp[0]} given without {other} (send null for a value the cuff did not give)")
        return self

    def present(self) -> set[str]:
        """Fields that were measured at this attempt (set explicitly, or named in ``invalid``)."""
        return (set(self.model_fields_set) - {"minute", "invalid"}) | set(self.invalid)


class IndividualNorm(_In):
    """A worker's own baseline, pushed from the hub with the roster (reference §1.4).

    The 2002 recommendations have the *physician* set the norm from no fewer than ten
    exams [RU-MR2002]. So the pre-decision applies a norm only when it carries
    ``n_readings`` (at least the rule set's ``min_readings``) and, with
    ``require_approval`` (default), the approving physician ``approved_by`` and the date
    ``approved_on`` (ISO ``YYYY-MM-DD``). A norm without them is still accepted here (the
    roster stores what the hub sent) but :func:`decide` does not apply it and says why.
    """

    systolic_mmhg: float | None = Field(default=None, gt=0)
    diastolic_mmhg: float | None = Field(default=None, gt=0)
    pulse_bpm: float | None = Field(default=None, gt=0)
    n_readings: int | None = Field(default=None, ge=0)
    computed_from: str | None = None
    computed_to: str | None = None
    approved_by: str | None = Field(default=None, min_length=1, max_length=200, description="approving physician")
    approved_on: str | None = Field(default=None, description="date of the approval, YYYY-MM-DD")

    @field_validator("approved_on")
    @classmethod
    def _iso_date(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a date YYYY-MM-DD") from None
        return v

    @field_validator("approved_by")
    @classmethod
    def _who(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("approved_by is empty")
        return v

    @model_validator(mode="after")
    def _pairs(self) -> "IndividualNorm":
        s, d = self.systolic_mmhg, self.diastolic_mmhg
        if (s is None) != (d is None):
            raise ValueError("individual_norm needs both systolic_mmhg and diastolic_mmhg")
        if s is not None and d is not None and s <= d:
            raise ValueError("individual_norm.systolic_mmhg must be above individual_norm.diastolic_mmhg")
        if s is None and self.pulse_bpm is None:
            raise ValueError("individual_norm must contain systolic_mmhg/diastolic_mmhg or pulse_bpm")
        return self


class ExamInput(_In):
    """Everything the pre-decision needs about one exam."""

    exam_type: ExamType
    attempts: list[Attempt] = Field(min_length=1)
    individual_norm: IndividualNorm | None = None
    complaints: list[str] = Field(default_factory=list, description="red-flag answers of the complaints survey")
    signs_of_intoxication: bool = Field(default=False, description="signs of intoxication seen at the visual exam")

    @field_validator("complaints")
    @classmethod
    def _complaints(cls, v: list[str]) -> list[str]:
        for i, c in enumerate(v):
            if not c.strip():
                raise ValueError(f"complaints[{i}] is empty")
        return v

    @field_validator("attempts")
    @classmethod
    def _order(cls, v: list[Attempt]) -> list[Attempt]:
        for i in range(1, len(v)):
            if v[i].minute < v[i - 1].minute:
                raise ValueError(
                    f"attempts[{i}].minute ({v[i].minute:g}) is earlier than "
                    f"attempts[{i - 1}].minute ({v[i - 1].minute:g}); attempts must be in time order"
                )
        return v


class Fired(BaseModel):
    """One rule that fired, with the value that made it fire and what it led to."""

    model_config = ConfigDict(extra="forbid")

    rule: str
    source: str
    value: Any = None
    minute: float | int | None = None
    effect: Effect
    threshold: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Reason(BaseModel):
    rule: str
    ru: str
    en: str


class Pending(BaseModel):
    """Something still to do that the outcome did not ask for (e.g. under needs_medic)."""

    group: str
    action: Literal["retest", "remeasure"]
    fields: list[str]
    not_before_minute: float | int | None = None
    not_after_minute: float | int | None = None


class Decision(BaseModel):
    outcome: Outcome
    fired: list[Fired]
    retest_not_before_minute: float | int | None = None
    retest_not_after_minute: float | int | None = None
    remeasure: list[str] = Field(default_factory=list, description="reading fields to take again now")
    pending: list[Pending] = Field(default_factory=list)
    reasons: list[Reason] = Field(default_factory=list)
    summary: dict[str, str] = Field(default_factory=dict)
    notify_employer: bool = False
    medic_queue: bool = False
    exam_type: str
    rule_set_id: str
    rule_set_version: str
    rule_set_sha256: str

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI / wire form: top-level ``None`` fields left out (no retest minute unless retest)."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if v is not None}
