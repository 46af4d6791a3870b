"""The exam journal: one row per exam in the thirteen columns of reference.md §1.6, in that order.

Source: 835н п.14–16 — results go into the "Journal of registration of pre-trip/pre-shift exams",
and a separate one for post-trip/post-shift exams; the columns are those of reference.md §1.6
(what template sellers and the anchors report R17 agree on). Pure functions: a
:class:`~hub.exports.source.StoredExam` in, thirteen strings out.

Choices where the sources say nothing (docs/exports.md):

* the conclusion (column 11) is the medic's current decision where there is one, else the
  kiosk's pre-decision, marked as such (ПП 866: the medic makes the conclusion);
* the signs found are the kiosk's stated reasons (the admission rules' texts) and the medic's reason;
* column 8 and 9 list every attempt in order ("152/94 → 146/92"): re-tests are part of the record;
* column 12's signature status is the medic's electronic signature on the decision
  (hub/medic_signing.py: a simple Ed25519 signature, verified at export): "подписано, подпись
  верна", "не подписано", or "ПОДПИСЬ НЕДЕЙСТВИТЕЛЬНА"; the kiosk's own seal over the record
  (Ed25519 chain, hub/evidence.py) is shown in column 13 with the worker's identification and
  consent, which is what the worker "signs" at a kiosk;
* a visual exam or a urine PAS test the record does not carry is written "не проводился".
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Sequence

from hub.exports.source import StoredExam

#: reference.md §1.6, in that order: (key, Russian title, English title)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("datetime", "Дата и время осмотра", "Date and time of the exam"),
    ("full_name", "Ф. И. О. работника", "Worker's full name"),
    ("sex", "Пол", "Sex"),
    ("birth_date", "Дата рождения", "Date of birth"),
    ("personnel", "Табельный номер / работодатель", "Personnel number / employer"),
    ("complaints", "Жалобы (опрос)", "Complaints (survey answers)"),
    ("visual", "Визуальный осмотр, кожные покровы и слизистые", "Visual exam, skin and mucosa"),
    ("vitals", "АД, пульс, температура тела", "BP, pulse, body temperature"),
    ("alcohol", "Проба на алкоголь в выдыхаемом воздухе (мг/л), прибор", "Breath alcohol (mg/L), device"),
    ("pas", "Экспресс-тест мочи на ПАВ", "Urine PAS test"),
    ("conclusion", "Заключение (допущен / не допущен, выявленные признаки)",
     "Conclusion (admitted / not admitted, signs found)"),
    ("medic", "Ф. И. О. и подпись медицинского работника", "Medic's full name and signature"),
    ("worker_signature", "Подпись работника", "Worker's signature"),
)

#: Which journal an exam type belongs to (835н: pre-shift/pre-trip and post-shift/post-trip are kept apart).
JOURNALS = {
    "pre": ("pre_shift", "pre_trip"),
    "post": ("post_shift", "post_trip"),
    "in_shift": ("in_shift",),
}
EXAM_TYPES = ("pre_shift", "pre_trip", "post_shift", "post_trip", "in_shift")

TITLES = {
    "pre": ("Журнал регистрации предсменных, предрейсовых медицинских осмотров",
            "Journal of pre-shift and pre-trip medical exams"),
    "post": ("Журнал регистрации послесменных, послерейсовых медицинских осмотров",
             "Journal of post-shift and post-trip medical exams"),
    "in_shift": ("Журнал регистрации медицинских осмотров в течение смены", "Journal of in-shift medical exams"),
}

#: The kiosk's default survey (edge_agent/workflow/settings.py DEFAULT_SURVEY): answer that is a complaint, text.
SURVEY = {
    "slept_enough": (False, "не выспался", "did not sleep enough"),
    "feels_unwell": (True, "жалобы на самочувствие", "feels unwell"),
    "took_medication": (True, "приём лекарств за последние сутки", "took medication in the last 24 hours"),
}

_T = {
    "admitted": ("допущен", "admitted"),
    "not_admitted": ("не допущен", "not admitted"),
    "needs_medic": ("требуется решение медработника", "medic's decision needed"),
    "by_medic": ("решение медработника", "medic's decision"),
    "by_kiosk": ("предварительное решение киоска", "kiosk's pre-decision"),
    "no_complaints": ("жалоб нет", "no complaints"),
    "not_done": ("не проводился", "not done"),
    "not_measured": ("не измерялось", "not measured"),
    "pulse": ("пульс", "pulse"),
    "bp": ("АД", "BP"),
    "temp": ("t", "t"),
    "spo2": ("SpO2", "SpO2"),
    "mmhg": ("мм рт. ст.", "mmHg"),
    "bpm": ("уд/мин", "bpm"),
    "mgl": ("мг/л", "mg/L"),
    "invalid": ("недостоверно", "invalid"),
    "no_medic": ("— (медработник не участвовал)", "— (no medic involved)"),
    "esign_valid": ("ЭП: подписано, подпись верна", "e-signature: signed, verified"),
    "esign_invalid": ("ЭП: ПОДПИСЬ НЕДЕЙСТВИТЕЛЬНА", "e-signature: INVALID"),
    "esign_unsigned": ("ЭП: не подписано", "e-signature: not signed"),
    "decided": ("решение", "decided"),
    "reason": ("основание", "reason"),
    "referral": ("направление", "referral"),
    "notified": ("работодатель уведомлён", "employer notified"),
    "identified": ("идентифицирован на киоске", "identified at the kiosk"),
    "consent": ("согласие", "consent"),
    "no_consent": ("согласие: нет данных", "consent: not recorded"),
    "seal": ("печать киоска", "kiosk seal"),
    "sex_M": ("М", "M"),
    "sex_F": ("Ж", "F"),
    "unknown": ("нет данных", "not recorded"),
    "personnel": ("таб. №", "personnel no."),
    "employer": ("площадка", "site"),
}
#: chain_status (hub/evidence.py) as the journal states it
SEAL = {
    "ok": ("подпись проверена", "signature verified"),
    "pending_link": ("подпись проверена, ожидается предыдущая запись", "signature verified, predecessor pending"),
    "unsigned": ("не подписана", "unsigned"),
    "gap": ("подпись проверена, предыдущая запись не поступила", "signature verified, predecessor missing"),
    "broken_link": ("нарушена цепочка записей", "chain broken"),
    "fork": ("ветвление цепочки записей", "chain fork"),
    "unknown_key": ("ключ киоска не зарегистрирован", "kiosk key unknown"),
    "hash_mismatch": ("содержимое не совпадает с печатью", "content does not match the seal"),
    "bad_signature": ("подпись недействительна", "invalid signature"),
    "malformed_seal": ("печать повреждена", "malformed seal"),
}


def t(key: str, lang: str) -> str:
    ru, en = _T[key]
    return ru if lang == "ru" else en


def column_titles(lang: str) -> list[str]:
    return [ru if lang == "ru" else en for _, ru, en in COLUMNS]


def journal_types(name: str) -> tuple[str, ...]:
    """Exam types of journal ``name`` (pre / post / in_shift) or of one exam type; ValueError otherwise."""
    if name in JOURNALS:
        return JOURNALS[name]
    if name in EXAM_TYPES:
        return (name,)
    raise ValueError(f"exam_type must be one of {', '.join([*JOURNALS, *EXAM_TYPES])}, not {name!r}")


def journal_of(name: str) -> str:
    """The journal (pre / post / in_shift) an exam type or journal name belongs to."""
    return next(j for j, types in JOURNALS.items() if name == j or name in types)


def number(value: float, lang: str, decimals: int | None = None) -> str:
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:g}"
    return text.replace(".", ",") if lang == "ru" else text


def local_time(text: str | None, tz: tzinfo, *, with_time: bool = True) -> str:
    if not text:
        return ""
    moment = datetime.fromisoformat(text).astimezone(tz)
    return moment.strftime("%d.%m.%Y %H:%M" if with_time else "%d.%m.%Y")


def _by_field(body: dict) -> dict[str, list[dict]]:
    """The exam's measurements per field, in attempt order."""
    out: dict[str, list[dict]] = {}
    for m in body.get("measurements") or []:
        out.setdefault(m.get("field"), []).append(m)
    for series in out.values():
        series.sort(key=lambda m: m.get("attempt", 1))
    return out


def _value(m: dict, lang: str, decimals: int | None = None) -> str:
    value = m.get("value")
    return t("invalid", lang) if value is None else number(float(value), lang, decimals)


def vitals(measured: dict[str, list[dict]], lang: str) -> str:
    """Column 8: BP (each attempt), pulse, body temperature; SpO2 when measured."""
    sys_, dia = measured.get("systolic_mmhg", []), measured.get("diastolic_mmhg", [])
    parts = []
    if sys_ or dia:
        pairs = [f"{_value(s, lang, 0)}/{_value(d, lang, 0)}" for s, d in zip(sys_, dia, strict=False)]
        parts.append(f"{t('bp', lang)} {' → '.join(pairs)} {t('mmhg', lang)}")
    for field, label, unit, decimals in (("pulse_bpm", "pulse", t("bpm", lang), 0),
                                         ("temperature_c", "temp", "°C", 1),
                                         ("spo2_percent", "spo2", "%", 0)):
        series = measured.get(field)
        if series:
            parts.append(f"{t(label, lang)} {' → '.join(_value(m, lang, decimals) for m in series)} {unit}")
    return "; ".join(parts) if parts else t("not_measured", lang)


def alcohol(measured: dict[str, list[dict]], lang: str) -> str:
    """Column 9: every breath-alcohol attempt in mg/L (three decimals, as the analysers print) and the device."""
    series = measured.get("brac_mg_l")
    if not series:
        return t("not_done", lang)
    values = " → ".join(_value(m, lang, 3) for m in series)
    devices = []
    for m in series:
        name = " ".join(str(x) for x in (m.get("device_model"), m.get("device_serial")) if x)
        if name and name not in devices:
            devices.append(name)
    return f"{values} {t('mgl', lang)}" + (f" ({', '.join(devices)})" if devices else "")


def complaints(body: dict, lang: str) -> str:
    """Column 6: the survey answers that are complaints (the kiosk's default survey), others as given."""
    found = []
    for key, answer in (body.get("answers") or {}).items():
        known = SURVEY.get(key)
        if known is None:
            found.append(f"{key}: {answer}")
        elif answer is known[0]:
            found.append(known[1] if lang == "ru" else known[2])
    return "; ".join(found) if found else t("no_complaints", lang)


def _signs(body: dict, lang: str) -> list[str]:
    signs = []
    for reason in body.get("reasons") or []:
        if isinstance(reason, dict):
            text = reason.get(lang) or reason.get("ru") or reason.get("rule")
            text = str(text or "").strip().rstrip(".").strip()
            if text and text not in signs:
                signs.append(text)
    return signs


def final_outcome(exam: StoredExam) -> str:
    """The journal's conclusion: the medic's current decision where there is one, else the kiosk's outcome."""
    return exam.decision["decision"] if exam.decision else exam.row["outcome"]


def conclusion(exam: StoredExam, lang: str) -> str:
    """Column 11: admitted / not admitted, who concluded, and the signs found."""
    decision = exam.decision
    text = f"{t(final_outcome(exam), lang)} ({t('by_medic' if decision else 'by_kiosk', lang)})"
    signs = _signs(exam.body, lang)
    if signs:
        text += ": " + "; ".join(signs)
    if decision:
        if decision.get("reason"):
            text += f"; {t('reason', lang)}: {decision['reason']}"
        if decision.get("referral"):
            text += f"; {t('referral', lang)}: {decision['referral']}"
        if decision.get("notify_employer"):
            text += f"; {t('notified', lang)}"
    return text


def medic_cell(exam: StoredExam, tz: tzinfo, lang: str) -> str:
    """Column 12: the medic's name, when the decision was taken, and the signature status."""
    decision = exam.decision
    if not decision:
        return t("no_medic", lang)
    decided = local_time(decision["decided_at"], tz)
    status = (decision.get("signature") or {}).get("status", "unsigned")
    key = f"esign_{status}" if f"esign_{status}" in _T else "esign_invalid"
    return f"{decision['medic']}; {t('decided', lang)} {decided}; {t(key, lang)}"


def worker_signature(exam: StoredExam, tz: tzinfo, lang: str) -> str:
    """Column 13: identification at the kiosk, the recorded consent and the kiosk's seal over the record."""
    consent = exam.body.get("consent") or {}
    given = consent.get("given_at") if isinstance(consent, dict) else None
    consent_text = f"{t('consent', lang)} {local_time(given, tz, with_time=False)}" if given else t("no_consent", lang)
    status = exam.row.get("chain_status") or "unsigned"
    seal = SEAL.get(status, (status, status))
    return f"{t('identified', lang)}; {consent_text}; {t('seal', lang)}: {seal[0] if lang == 'ru' else seal[1]}"


def row(exam: StoredExam, tz: tzinfo, lang: str = "ru") -> list[str]:
    """The thirteen cells of one exam (reference.md §1.6 order)."""
    body = exam.body
    worker = body.get("worker") if isinstance(body.get("worker"), dict) else {}
    sex = worker.get("sex")
    measured = _by_field(body)
    return [
        local_time(body.get("started_at") or exam.row["started_at"], tz),
        worker.get("full_name") or t("unknown", lang),
        t(f"sex_{sex}", lang) if sex in ("M", "F") else t("unknown", lang),
        _date(worker.get("birth_date")) or t("unknown", lang),
        f"{t('personnel', lang)} {exam.row['worker_id']}; {t('employer', lang)} {exam.row['site']}",
        complaints(body, lang),
        str(body["visual_exam"]) if body.get("visual_exam") else t("not_done", lang),
        vitals(measured, lang),
        alcohol(measured, lang),
        str(body["urine_pas"]) if body.get("urine_pas") else t("not_done", lang),
        conclusion(exam, lang),
        medic_cell(exam, tz, lang),
        worker_signature(exam, tz, lang),
    ]


def _date(text: str | None) -> str | None:
    """A birth date as dd.mm.yyyy (the roster keeps ISO dates)."""
    if not text:
        return None
    parts = str(text).split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        return f"{parts[2]}.{parts[1]}.{parts[0]}"
    return str(text)


def rows(exams: Sequence[StoredExam], tz: tzinfo, lang: str = "ru") -> list[list[str]]:
    """The journal's rows in the order of the exams' start (column 1), like the paper journal."""
    ordered = sorted(exams, key=lambda e: (datetime.fromisoformat(e.row["started_at"]), e.row.get("seq", 0)))
    return [row(exam, tz, lang) for exam in ordered]


#: Relative column widths of the PDF (landscape A4), chosen so the long columns wrap least.
PDF_WIDTHS = (6.3, 8, 3, 6, 7.5, 6, 6.5, 10, 9, 6.8, 12.5, 9, 10.5)
