"""The printed slip (талон) of one exam: pure text lines for the receipt printer.

What it carries follows the waybill mark practice (reference §1.3: date, time, exam type,
the result) and the journal's columns (§1.6): worker, personnel number, exam type,
date/time, outcome and the reasons, the kiosk and the exam id to find the record. No
medical values are printed: the slip may be shown to the employer (323-FZ art. 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

EXAM_TYPE_RU = {"pre_shift": "предсменный", "post_shift": "послесменный", "pre_trip": "предрейсовый",
                "post_trip": "послерейсовый", "in_shift": "внутрисменный"}
EXAM_TYPE_EN = {"pre_shift": "pre-shift", "post_shift": "post-shift", "pre_trip": "pre-trip",
                "post_trip": "post-trip", "in_shift": "in-shift"}
OUTCOME_RU = {"admitted": "ДОПУЩЕН", "not_admitted": "НЕ ДОПУЩЕН", "needs_medic": "ОЖИДАЕТ РЕШЕНИЯ МЕДИКА"}
OUTCOME_EN = {"admitted": "ADMITTED", "not_admitted": "NOT ADMITTED", "needs_medic": "WAIT FOR THE MEDIC"}


@dataclass(frozen=True)
class Slip:
    title: str
    lines: list[str]
    emphasis: str  # the outcome line, printed large


def _wrap(text: str, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        while len(word) > width:
            if line:
                out.append(line)
                line = ""
            out.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    return out


def build_slip(body: dict, *, site: str, kiosk: str, width: int = 32, tz: str = "Europe/Moscow") -> Slip:
    """The slip for an exam record body (as passed to ``agent.record("exam", …)``)."""
    finished = datetime.fromisoformat(body["finished_at"]).astimezone(ZoneInfo(tz))
    worker = body.get("worker") or {}
    outcome = body["outcome"]
    lines = [
        f"Дата: {finished:%d.%m.%Y}  Время: {finished:%H:%M}",
        f"Осмотр: {EXAM_TYPE_RU.get(body['exam_type'], body['exam_type'])}",
    ]
    lines += _wrap(f"Работник: {worker.get('full_name') or ''}", width)
    lines.append(f"Таб. №: {body['worker_id']}")
    if body.get("ticket"):
        lines.append(f"Талон: {body['ticket']}")  # the number the kiosk screen calls them by
    reasons = [r["ru"] for r in body.get("reasons", []) if r.get("rule") not in _INFO_ONLY or outcome != "admitted"]
    if outcome != "admitted" and reasons:
        lines.append("Причины:")
        for reason in reasons:
            wrapped = _wrap(reason, width - 2)
            lines += ["- " + wrapped[0], *("  " + w for w in wrapped[1:])]
    if outcome == "needs_medic":
        lines += _wrap("Обратитесь к медицинскому работнику.", width)
    lines += ["-" * width, f"Киоск: {site}/{kiosk}", f"Осмотр №: {body['exam_id'][:8]}",
              f"Правила: {body['rule_set_version']}"]
    lines += _wrap("Предварительное заключение киоска; решение принимает медицинский работник (ПП 866).", width)
    return Slip(title="ПРЕДСМЕННЫЙ ОСМОТР" if body["exam_type"] == "pre_shift" else "МЕДИЦИНСКИЙ ОСМОТР",
                lines=lines, emphasis=OUTCOME_RU[outcome])


#: Informational entries that do not belong on an "admitted" slip (they carry no refusal).
_INFO_ONLY = {"bp.individual", "pulse.individual", "alcohol.trace"}
