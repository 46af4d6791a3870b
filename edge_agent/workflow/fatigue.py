"""``Screen.FATIGUE``: the optional fatigue / stress screening after the complaints survey.

Seed 002 B.3.3.5 (psychosocial risks): self-rated fatigue and stress are detectable at
admission to the shift. The kiosk asks the configured validated instruments (items, answer
scales, scoring, cut-offs and citations in ``configs/models/fatigue_screening.toml``, read
and scored by :mod:`firmware_bridges.fatigue`, the same code the hub's ``fatigue-screening``
model uses), one item per screen, one tap per item (the tap must name the item on screen:
:mod:`edge_agent.workflow.taps`). The answers, scores and bands go into the exam record
(``ExamBody.fatigue``) for the medic only.

By default the result is information for the medic and never changes the outcome (266н's
exam list has no such questionnaire and the medic, not a screen, concludes on fitness —
docs/admission-rules.md); ``hold_on_positive`` makes a positive screen hold the worker for
the medic (``needs_medic``), for every exam or for the safety-critical exam types only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from edge_agent.workflow.session import ExamSession
from edge_agent.workflow.states import Screen
from firmware_bridges import fatigue as instruments
from firmware_bridges.configfile import ConfigError, load_toml

#: The fired rule when a configured hold turns an admitted exam into ``needs_medic``.
HOLD_RULE = {
    "rule": "fatigue.positive_screen",
    "source": "seed 002 B.3.3.5 (psychosocial risks at admission); kiosk setting workflow.fatigue.hold_on_positive",
    "effect": "needs_medic",
    "ru": "Результат опроса об утомлении и стрессе: требуется беседа с медицинским работником.",
    "en": "The fatigue and stress questionnaire needs a talk with the medical worker.",
}


class FatigueSettings(BaseModel):
    """``[workflow.fatigue]`` of the kiosk TOML (defaults documented in docs/kiosk-operator.md
    and docs/admission-rules.md)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="ask the screening after the complaints survey")
    table_path: str | None = Field(default=None, description="instrument table; default: the shipped "
                                   "configs/models/fatigue_screening.toml (the hub model's table)")
    instruments: list[str] | None = Field(default=None, description="asked in this order; default: the table's "
                                          "`instruments`")
    hold_on_positive: Literal["never", "safety_critical", "always"] = Field(
        default="never", description="never: information for the medic only (default); safety_critical: a positive "
        "screen holds the worker for the medic on the exam types below; always: on every exam")
    safety_critical_exam_types: list[str] = Field(default_factory=lambda: ["pre_trip", "post_trip"])
    _table: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _instruments_exist(self) -> FatigueSettings:
        if self.enabled:
            table = self.table()
            instruments.check_table(table, self.asked(table), self.table_path or instruments.default_table_path())
        return self

    def table(self) -> dict[str, Any]:
        """The instrument table, read once (``ConfigError`` naming the file and key when it cannot be used)."""
        if self._table is None:
            path = Path(self.table_path) if self.table_path else instruments.default_table_path()
            table = load_toml(path)
            if self.instruments is None and not table.get("instruments"):
                raise ConfigError(f"{path}: instruments: the table lists no instruments to ask")
            self._table = table
        return self._table

    def asked(self, table: dict[str, Any]) -> list[str]:
        return list(self.instruments if self.instruments is not None else table["instruments"])


class FatigueState:
    """The screening step (a part of the Workflow)."""

    async def _fatigue_screen(self, session: ExamSession) -> None:
        """Ask every item (one screen each) and keep the scored result on the session."""
        settings: FatigueSettings = self.settings.fatigue
        if not settings.enabled or session.fatigue is not None:
            return
        table = settings.table()
        asked = settings.asked(table)
        questions = instruments.items(table, asked)
        answers: dict[str, int] = {}
        for i, item in enumerate(questions):
            self._show_exam(Screen.FATIGUE, session, index=i, total=len(questions), item=item)
            values = [s["value"] for s in item["scale"]]
            data: dict = {}
            # (the tap guard refuses other items and values before they queue; an input that bypassed it is dropped)
            while data.get("item") != item["id"] or data.get("points") not in values:
                _, data = await self._worker_input(session, {"fatigue_answer"})
            answers[item["id"]] = int(data["points"])
        session.fatigue = screening_record(table, asked, questions, answers, settings, session.exam_type)


def screening_record(table: dict[str, Any], asked: list[str], questions: list[dict[str, Any]],
                     answers: dict[str, int], settings: FatigueSettings, exam_type: str) -> dict[str, Any]:
    """The ``fatigue`` field of the exam record (contract ``FatigueScreen``): the items as asked
    with their answers, each instrument's score, band and positive screen, and what it does."""
    scored = instruments.score_answers(table, asked, answers)
    asked_items = []
    for item in questions:
        value = answers[item["id"]]
        label = next((s for s in item["scale"] if s["value"] == value), {})
        text = {lang: (f"{item['stem'][lang]} {item[lang]}" if "stem" in item else item[lang]) for lang in ("ru", "en")}
        asked_items.append({"item": item["id"], "instrument": item["instrument"], "ru": text["ru"], "en": text["en"],
                            "value": value, "answer_ru": label.get("ru"), "answer_en": label.get("en")})
    holds = settings.hold_on_positive == "always" or (
        settings.hold_on_positive == "safety_critical" and exam_type in settings.safety_critical_exam_types)
    positive = scored["positive"]
    action = "none" if not positive else "needs_medic" if holds else "inform_medic"
    return {"instruments": list(asked), "answers": asked_items, "results": scored["results"], "positive": positive,
            "action": action, "affects_outcome": action == "needs_medic", "source": instruments.SOURCE}


def hold(fatigue: dict[str, Any] | None, outcome: str) -> list[dict[str, Any]]:
    """The fired rule to add when a configured hold applies to an otherwise admitted exam."""
    if fatigue is None or fatigue["action"] != "needs_medic" or outcome != "admitted":
        return []
    return [{**HOLD_RULE, "value": list(fatigue["positive"])}]
