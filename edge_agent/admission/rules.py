"""The admission rule set: schema (pydantic) and loader (TOML).

The rule set is versioned configuration (``configs/admission/rules-default.toml``). Every
rule carries its id, its source (regulation, or the section of
``shared/domain/reference.md``, or "design default"), its thresholds and its unit. The
federal orders (266н, before it 835н) fix **no** numeric BP, pulse or temperature limits
(reference.md §0.2, §1.4): those numbers are design defaults (reference §1.4 "D", §8) that
the plant's medical service must approve; the file marks each of them with
``design_default = true``.

Comparison semantics are spelled out in the key names so that nobody has to guess
whether a boundary is inclusive:

* ``*_at_or_above`` fires when ``value >= threshold``;
* ``*_above`` fires when ``value > threshold``;
* ``*_below`` fires when ``value < threshold``;
* plausibility ``*_min`` / ``*_max`` reject ``value < min`` or ``value > max`` (the
  bounds themselves are plausible).

Loading errors name the file and the key, e.g.
``configs/admission/x.toml: key rules.bp_high.systolic_at_or_above: Input should be a valid number``.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware_bridges.configfile import ConfigError, parse_toml, shipped_config

#: The rule set shipped with the package (``configs/admission/rules-default.toml``).
DEFAULT_RULES_PATH: Path = shipped_config("admission", "rules-default.toml")

#: Exam types of 266н (reference §1.1): pre-/post-shift, pre-/post-trip and in-shift.
ExamType = Literal["pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift"]
EXAM_TYPES: tuple[str, ...] = ("pre_shift", "post_shift", "pre_trip", "post_trip", "in_shift")

#: Measurement groups: one device measurement each (the cuff gives SBP and DBP together).
Group = Literal["bp", "pulse", "temperature", "spo2", "alcohol"]
GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "bp": ("systolic_mmhg", "diastolic_mmhg"),
    "pulse": ("pulse_bpm",),
    "temperature": ("temperature_c",),
    "spo2": ("spo2_percent",),
    "alcohol": ("brac_mg_l",),
}

NormMode = Literal["replace", "widen_only"]


class RuleSetError(ConfigError):
    """A rule set that cannot be read or does not validate; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Rule(_Strict):
    """Fields every rule has."""

    id: str
    source: str = Field(min_length=3, description="regulation, reference.md section, or 'design default'")
    design_default: bool = Field(description="true: not a number of any source; for the plant's medical service to approve")
    note: str = ""
    measurement_error: str = Field(default="", description="the device's permissible error, for the medical service")


# --- blood pressure -----------------------------------------------------------------------


class BpHighRule(_Rule):
    id: Literal["bp.high"]
    unit: Literal["mmHg"]
    systolic_at_or_above: float = Field(gt=0)
    diastolic_at_or_above: float = Field(gt=0)
    guard_band: float = Field(default=0.0, ge=0, description="conservative margin: fires from threshold - guard_band")


class BpLowRule(_Rule):
    id: Literal["bp.low"]
    unit: Literal["mmHg"]
    systolic_below: float = Field(gt=0)
    diastolic_below: float = Field(gt=0)
    guard_band: float = Field(default=0.0, ge=0, description="conservative margin: fires below threshold + guard_band")


class BpSevereRule(_Rule):
    id: Literal["bp.severe"]
    unit: Literal["mmHg"]
    systolic_at_or_above: float = Field(gt=0)
    diastolic_at_or_above: float = Field(gt=0)
    guard_band: float = Field(default=0.0, ge=0)
    outcome: Literal["needs_medic"] = "needs_medic"


class IndividualNormRule(_Rule):
    """How a worker's own baseline changes the population band (reference §1.4, [RU-MR2002]).

    ``mode = "replace"`` (the safer reading, default): with a usable norm the acceptable
    band *is* norm ± tolerance, so it can widen *and* narrow the population band (the
    2002 recommendations refuse at "levels above or below those typical for this
    driver"). ``mode = "widen_only"``: the literal §1.4 table — a reading inside
    norm ± tolerance overrides the population rule; outside it the population rule
    applies. The severe rule is never overridden.
    """

    id: Literal["bp.individual", "pulse.individual"]
    unit: Literal["%"]
    enabled: bool = True
    tolerance_percent: float = Field(gt=0, le=50)
    min_readings: int = Field(ge=1, description="a norm computed from fewer readings (or with no count) is not applied")
    require_approval: bool = Field(description="a norm without the approving physician (who, when) is not applied")
    mode: NormMode = "replace"


class BpIndividualNormRule(IndividualNormRule):
    """The BP norm, with the ceiling it never widens past (issue 13, error 4).

    A reading at or above the ceiling (default 160/100) with a norm applied goes to the
    medic (``ceiling_outcome``), whatever the norm: a norm only ever admits a reading the
    population band would re-test *below* the ceiling, and never one at or above
    ``bp.severe``; a norm whose centre is at or above ``bp.severe`` is not applied.
    """

    id: Literal["bp.individual"]
    ceiling_systolic_at_or_above: float = Field(gt=0)
    ceiling_diastolic_at_or_above: float = Field(gt=0)
    ceiling_outcome: Literal["needs_medic", "retest"] = Field(
        description="needs_medic: at once; retest: the population rule (re-test, then needs_medic)")


# --- pulse, temperature, SpO2 ---------------------------------------------------------------


class PulseRule(_Rule):
    id: Literal["pulse"]
    unit: Literal["1/min"]
    below: float = Field(gt=0)
    above: float = Field(gt=0)
    guard_band: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _band(self) -> "PulseRule":
        if not self.below < self.above:
            raise ValueError("below must be smaller than above")
        return self


class PulseSevereRule(_Rule):
    """Pulse so far out of band that no re-test is waited for (issue 13, error 2)."""

    id: Literal["pulse.severe"]
    unit: Literal["1/min"]
    at_or_above: float = Field(gt=0)
    at_or_below: float = Field(gt=0)
    outcome: Literal["needs_medic"] = "needs_medic"  # order: checked against rules.pulse in Rules


class TempLowRule(_Rule):
    """Low body temperature: re-measure (misplaced thermometer), then the medic (issue 13, error 3)."""

    id: Literal["temp.low"]
    unit: Literal["°C"]
    enabled: bool = True
    below: float = Field(gt=30, lt=40)
    remeasures: int = Field(ge=0, le=5, description="low readings re-measured at once before needs_medic")
    outcome: Literal["needs_medic"] = "needs_medic"


class TempRule(_Rule):
    id: Literal["temp"]
    unit: Literal["°C"]
    at_or_above: float = Field(gt=30, lt=45)
    guard_band: float = Field(default=0.0, ge=0)
    outcome: Literal["needs_medic", "not_admitted"] = "needs_medic"


class Spo2Rule(_Rule):
    id: Literal["spo2.low"]
    unit: Literal["%"]
    enabled: bool = True
    below: float = Field(gt=0, le=100)
    guard_band: float = Field(default=0.0, ge=0)
    outcome: Literal["needs_medic", "not_admitted"] = "needs_medic"


# --- breath alcohol -------------------------------------------------------------------------


class AlcoholRule(_Rule):
    """Positive breath alcohol, confirmed by a second test after the waiting time (§1.5).

    0.16 mg/L already *is* the total permissible measurement error (КоАП 12.8 note), so no
    further margin is added: a measured value ``>= 0.16`` is positive.
    """

    id: Literal["alcohol"]
    unit: Literal["mg/L"]
    at_or_above: float = Field(gt=0)
    confirm_after_minutes: float = Field(ge=0)
    confirm_within_minutes: float = Field(gt=0)
    outcome: Literal["not_admitted"] = "not_admitted"
    notify_employer: bool = True

    @model_validator(mode="after")
    def _window(self) -> "AlcoholRule":
        if self.confirm_within_minutes < self.confirm_after_minutes:
            raise ValueError("confirm_within_minutes must not be smaller than confirm_after_minutes")
        return self


class AlcoholTraceRule(_Rule):
    id: Literal["alcohol.trace"]
    unit: Literal["mg/L"]
    enabled: bool = True
    at_or_above: float = Field(gt=0)
    repeat_after_minutes: float = Field(ge=0)
    repeat_within_minutes: float = Field(gt=0)
    outcome_if_persists: Literal["needs_medic", "not_admitted"] = "needs_medic"

    @model_validator(mode="after")
    def _window(self) -> "AlcoholTraceRule":
        if self.repeat_within_minutes < self.repeat_after_minutes:
            raise ValueError("repeat_within_minutes must not be smaller than repeat_after_minutes")
        return self


class OutcomeRule(_Rule):
    """A rule with no threshold of its own; only its outcome."""

    id: Literal["alcohol.unconfirmed", "alcohol.window", "complaints", "psychoactive"]
    outcome: Literal["needs_medic"] = "needs_medic"


# --- procedure ----------------------------------------------------------------------------


class RetestIntervalRule(_Rule):
    id: Literal["retest.interval"]
    unit: Literal["min"]
    min_minutes: float = Field(gt=0)


class RetestCountRule(_Rule):
    id: Literal["retest.count"]
    unit: Literal["count"]
    max_retests: int = Field(ge=0, le=10)
    outcome: Literal["needs_medic"] = "needs_medic"


class DeviceNoValidReadingRule(_Rule):
    id: Literal["device.no_valid_reading"]
    unit: Literal["count"]
    max_remeasures: int = Field(ge=0, le=10)
    outcome: Literal["needs_medic"] = "needs_medic"


class RequiredMissingRule(_Rule):
    id: Literal["required.missing"]
    outcome: Literal["remeasure", "needs_medic"] = "remeasure"


# --- plausibility (reference §8) --------------------------------------------------------------


class PlausibilityBpRule(_Rule):
    id: Literal["plausibility.bp"]
    unit: Literal["mmHg"]
    systolic_min: float
    systolic_max: float
    diastolic_min: float
    diastolic_max: float
    pulse_pressure_min: float = Field(gt=0, description="also rejects SBP <= DBP")
    pulse_pressure_max: float


class PlausibilityRangeRule(_Rule):
    id: Literal["plausibility.temp", "plausibility.alcohol"]
    unit: Literal["°C", "mg/L"]
    min: float
    max: float


class PlausibilityPulseRule(_Rule):
    id: Literal["plausibility.pulse"]
    unit: Literal["1/min"]
    min: float
    max: float
    max_oximeter_cuff_difference: float = Field(gt=0)


class PlausibilitySpo2Rule(_Rule):
    id: Literal["plausibility.spo2"]
    unit: Literal["%"]
    min: float
    max: float
    perfusion_index_min_percent: float = Field(ge=0)


class Rules(_Strict):
    bp_high: BpHighRule
    bp_low: BpLowRule
    bp_severe: BpSevereRule
    bp_individual: BpIndividualNormRule
    pulse: PulseRule
    pulse_severe: PulseSevereRule
    pulse_individual: IndividualNormRule
    temp: TempRule
    temp_low: TempLowRule
    spo2_low: Spo2Rule
    alcohol: AlcoholRule
    alcohol_trace: AlcoholTraceRule
    alcohol_unconfirmed: OutcomeRule
    alcohol_window: OutcomeRule
    complaints: OutcomeRule
    psychoactive: OutcomeRule
    retest_interval: RetestIntervalRule
    retest_count: RetestCountRule
    device_no_valid_reading: DeviceNoValidReadingRule
    required_missing: RequiredMissingRule
    plausibility_bp: PlausibilityBpRule
    plausibility_pulse: PlausibilityPulseRule
    plausibility_temp: PlausibilityRangeRule
    plausibility_spo2: PlausibilitySpo2Rule
    plausibility_alcohol: PlausibilityRangeRule

    @model_validator(mode="after")
    def _ids_match_keys(self) -> "Rules":
        for key in type(self).model_fields:
            rule = getattr(self, key)
            expected = key.replace("_", ".", 1) if key not in _KEY_TO_ID else _KEY_TO_ID[key]
            if rule.id != expected:
                raise ValueError(f"rules.{key}.id must be {expected!r}, got {rule.id!r}")
        if self.plausibility_temp.unit != "°C":
            raise ValueError("rules.plausibility_temp.unit must be '°C'")
        if self.plausibility_alcohol.unit != "mg/L":
            raise ValueError("rules.plausibility_alcohol.unit must be 'mg/L'")
        if self.alcohol_trace.at_or_above >= self.alcohol.at_or_above:
            raise ValueError("rules.alcohol_trace.at_or_above must be below rules.alcohol.at_or_above")
        if self.bp_severe.systolic_at_or_above <= self.bp_high.systolic_at_or_above or (
            self.bp_severe.diastolic_at_or_above <= self.bp_high.diastolic_at_or_above
        ):
            raise ValueError("rules.bp_severe thresholds must be above rules.bp_high thresholds")
        ind, sev = self.bp_individual, self.bp_severe
        if ind.ceiling_systolic_at_or_above > sev.systolic_at_or_above or (
            ind.ceiling_diastolic_at_or_above > sev.diastolic_at_or_above
        ):
            raise ValueError("rules.bp_individual ceiling must not be above rules.bp_severe thresholds")
        if self.pulse_severe.at_or_above <= self.pulse.above or self.pulse_severe.at_or_below >= self.pulse.below:
            raise ValueError("rules.pulse_severe thresholds must lie outside the rules.pulse band")
        if self.temp_low.below >= self.temp.at_or_above:
            raise ValueError("rules.temp_low.below must be below rules.temp.at_or_above")
        if self.bp_low.systolic_below >= self.bp_high.systolic_at_or_above or (
            self.bp_low.diastolic_below >= self.bp_high.diastolic_at_or_above
        ):
            raise ValueError("rules.bp_low thresholds must be below rules.bp_high thresholds")
        for key in ("plausibility_bp",):
            r = self.plausibility_bp
            if not (r.systolic_min < r.systolic_max and r.diastolic_min < r.diastolic_max):
                raise ValueError(f"rules.{key}: each min must be below its max")
        for key in ("plausibility_pulse", "plausibility_temp", "plausibility_spo2", "plausibility_alcohol"):
            r = getattr(self, key)
            if not r.min < r.max:
                raise ValueError(f"rules.{key}: min must be below max")
        return self

    def by_id(self, rule_id: str) -> _Rule:
        for key in type(self).model_fields:
            rule: _Rule = getattr(self, key)  # every field of Rules is a rule
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


_KEY_TO_ID = {
    "alcohol": "alcohol",
    "pulse": "pulse",
    "temp": "temp",
    "complaints": "complaints",
    "psychoactive": "psychoactive",
    "spo2_low": "spo2.low",
    "device_no_valid_reading": "device.no_valid_reading",
}


class ExamTypeConfig(_Strict):
    required: list[Group] = Field(description="measurement groups this exam type must have")
    source: str = Field(min_length=3)


class RuleSetMeta(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    version: str = Field(min_length=1)
    title: str = ""
    status: Literal["design_default", "approved"]
    approval_note: str = ""
    approved_by: str = ""
    approved_on: date | None = None

    @model_validator(mode="after")
    def _approval(self) -> "RuleSetMeta":
        if self.status == "approved" and (not self.approved_by or self.approved_on is None):
            raise ValueError("status = 'approved' needs approved_by and approved_on")
        return self


class RuleSet(_Strict):
    """A complete, validated admission rule set."""

    rule_set: RuleSetMeta
    exam_types: dict[ExamType, ExamTypeConfig]
    rules: Rules

    @model_validator(mode="after")
    def _all_exam_types(self) -> "RuleSet":
        missing = [t for t in EXAM_TYPES if t not in self.exam_types]
        if missing:
            raise ValueError(f"exam_types: missing {', '.join(missing)}")
        return self

    @property
    def version(self) -> str:
        return self.rule_set.version

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the validated rule set (for the evidence chain)."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()


# --- loading ----------------------------------------------------------------------------------


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(err: ValidationError, origin: str, what: str = "key") -> str:
    """One line per problem: ``origin: key a.b.c: message``."""
    lines = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{origin}: {what} {_loc(tuple(e['loc']))}: {msg}")
    return "\n".join(lines)


def parse_rule_set(data: dict[str, Any], origin: str = "<rule set>") -> RuleSet:
    """Validate an already-parsed rule set (e.g. pushed by the hub on the config topic)."""
    try:
        return RuleSet.model_validate(data)
    except ValidationError as err:
        raise RuleSetError(format_validation_error(err, origin)) from None


def parse_rule_set_toml(text: str, origin: str = "<rule set>") -> RuleSet:
    """Parse and validate TOML text."""
    try:
        data = parse_toml(text, origin)  # the one TOML loader (firmware_bridges.configfile)
    except ConfigError as err:
        raise RuleSetError(str(err)) from None
    return parse_rule_set(data, origin)


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    """Load and validate a rule set file (default: :data:`DEFAULT_RULES_PATH`)."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        text = p.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RuleSetError(f"{p}: cannot read rule set: {err}") from None
    return parse_rule_set_toml(text, str(p))
