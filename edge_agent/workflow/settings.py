"""Settings of the exam workflow and the kiosk screen (the ``[workflow]`` and ``[screen]``
tables of the kiosk TOML). Every default is a design default of this project, documented
in ``docs/kiosk-operator.md``; the regulated waiting times come from the rule set, not
from here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge_agent.workflow.fatigue import FatigueSettings
from edge_agent.workflow.photos import PhotoSettings

EXAM_TYPES = ("pre_shift", "post_shift", "pre_trip", "post_trip")
MEASURING_KINDS = ("bp_cuff", "oximeter", "thermometer", "alcotester")


class SurveyQuestion(BaseModel):
    """One yes/no question of the complaints survey (266н сбор жалоб, reference §1.2)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=40)
    ru: str = Field(min_length=1)
    en: str = Field(min_length=1)
    red_flag: bool = Field(description="the answer that is a complaint (true = 'yes' is a complaint)")
    complaint_ru: str = Field(min_length=1, description="the complaint as named in the record and on the slip")
    complaint_en: str = Field(min_length=1)


DEFAULT_SURVEY = [
    SurveyQuestion(id="slept_enough", ru="Вы выспались?", en="Did you sleep enough?", red_flag=False,
                   complaint_ru="не выспался", complaint_en="did not sleep enough"),
    SurveyQuestion(id="feels_unwell", ru="Есть ли у вас жалобы на самочувствие?", en="Do you feel unwell?",
                   red_flag=True, complaint_ru="жалобы на самочувствие", complaint_en="feels unwell"),
    SurveyQuestion(id="took_medication", ru="Принимали ли вы лекарства за последние сутки?",
                   en="Have you taken any medication in the last 24 hours?", red_flag=True,
                   complaint_ru="приём лекарств", complaint_en="took medication"),
]


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules_path: str | None = Field(default=None, description="admission rule set; default: the packaged rule set")
    exam_types: list[str] = Field(default_factory=lambda: list(EXAM_TYPES), min_length=1)
    default_exam_type: str = "pre_shift"
    survey: list[SurveyQuestion] = Field(default_factory=lambda: list(DEFAULT_SURVEY))
    phases: list[list[str]] = Field(
        default_factory=lambda: [["bp_cuff", "oximeter", "thermometer", "alcotester"]],
        description=("device kinds measured together. Design default (issue 15, capacity ≥ 60 workers/h): "
                     "all four at once — the breath test runs while the cuff measures, the cuff on the left "
                     "arm, the breathalyzer in the right hand. Sites that want the blow kept out of the "
                     "cuff's reading set [[\"bp_cuff\", \"oximeter\", \"thermometer\"], [\"alcotester\"]] "
                     "(bench/kiosk_peak.py: ≈ 44 workers/h against ≈ 52)"),
    )
    survey_while_measuring: list[str] = Field(
        default_factory=lambda: ["bp_cuff"],
        description=("device kinds started as soon as the worker has chosen the exam type and left measuring "
                     "while they answer the complaints survey (issue 15: the cuff runs unattended for ≈ 45 s, "
                     "the survey takes a few taps). Their card, with the instruction, shows under each question; "
                     "the other devices start after the survey. [] asks the survey first, then measures. "
                     "Never the breathalyzer: the blow needs the worker's attention and its prompts"),
    )
    measure_timeout_s: float = Field(default=120.0, gt=0, description="one device measurement, at most")
    remeasure_pause_s: float = Field(default=2.0, ge=0, description="the error stays on screen this long before the re-measurement")
    result_screen_s: float = Field(default=20.0, gt=0, description="the result screen returns to the start after this")
    message_screen_s: float = Field(default=8.0, gt=0, description="an error screen (unknown badge …) returns after this")
    retest_give_up_after_min: float = Field(
        default=30.0, gt=0,
        description="a re-test not taken this long after it became due closes the exam as needs_medic",
    )
    pin_attempts: int = Field(default=5, ge=1, description="wrong PINs in a row before the personnel number is locked")
    pin_lock_min: float = Field(default=15.0, gt=0)
    photo: PhotoSettings = PhotoSettings()
    fatigue: FatigueSettings = FatigueSettings()  # optional screening after the survey; off by default

    @field_validator("exam_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        for t in v:
            if t not in EXAM_TYPES:
                raise ValueError(f"unknown exam type {t!r}; known: {', '.join(EXAM_TYPES)}")
        return v

    @field_validator("phases")
    @classmethod
    def _phases(cls, v: list[list[str]]) -> list[list[str]]:
        seen: list[str] = []
        for phase in v:
            for kind in phase:
                if kind not in MEASURING_KINDS:
                    raise ValueError(f"unknown measuring device kind {kind!r}; known: {', '.join(MEASURING_KINDS)}")
                if kind in seen:
                    raise ValueError(f"device kind {kind!r} appears in two phases")
                seen.append(kind)
        return v

    @field_validator("survey_while_measuring")
    @classmethod
    def _survey_while(cls, v: list[str]) -> list[str]:
        for kind in v:
            if kind not in MEASURING_KINDS:
                raise ValueError(f"unknown measuring device kind {kind!r}; known: {', '.join(MEASURING_KINDS)}")
            if kind == "alcotester":
                raise ValueError("the breathalyzer cannot measure during the survey: the blow needs the worker's "
                                 "attention and the measuring screen's prompts")
        return list(dict.fromkeys(v))


class ScreenSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="the screen is local: Chromium on the kiosk itself")
    port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port")
    language: str = Field(default="ru", pattern="^(ru|en)$")
