"""Russian and English texts for every fired rule and for the outcome.

The kiosk screen and the printed slip show these, so they are written for the worker:
what was found, and what happens next. A refusal always says why. Pure functions of the
``Fired`` entries (which carry the numbers in ``value`` and ``detail``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .models import Decision, Fired, Reason

LANGS = ("ru", "en")

GROUP_NAMES: dict[str, dict[str, str]] = {
    "bp": {"ru": "артериальное давление", "en": "blood pressure"},
    "pulse": {"ru": "пульс", "en": "pulse"},
    "temperature": {"ru": "температура тела", "en": "body temperature"},
    "spo2": {"ru": "сатурация кислорода (SpO2)", "en": "blood oxygen saturation (SpO2)"},
    "alcohol": {"ru": "проба на алкоголь в выдыхаемом воздухе", "en": "breath alcohol test"},
}

FIELD_NAMES: dict[str, dict[str, str]] = {
    "systolic_mmhg": {"ru": "систолическое давление", "en": "systolic pressure"},
    "diastolic_mmhg": {"ru": "диастолическое давление", "en": "diastolic pressure"},
    "pulse_bpm": {"ru": "пульс", "en": "pulse"},
    "temperature_c": {"ru": "температура", "en": "temperature"},
    "spo2_percent": {"ru": "SpO2", "en": "SpO2"},
    "brac_mg_l": {"ru": "алкоголь", "en": "alcohol"},
    "oximeter_pulse_bpm": {"ru": "пульс по оксиметру", "en": "oximeter pulse"},
    "perfusion_index_percent": {"ru": "индекс перфузии", "en": "perfusion index"},
}

_DECIMALS = {"brac_mg_l": 3, "temperature_c": 1}


def num(v: Any, lang: str, decimals: int | None = None) -> str:
    """A number as people write it: decimal comma in Russian."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if decimals is not None:
        text = f"{v:.{decimals}f}"
    else:
        text = f"{round(float(v), 6):g}" if isinstance(v, float) else str(v)
    return text.replace(".", ",") if lang == "ru" else text


def _bp(v: Any, lang: str) -> str:
    if isinstance(v, dict):
        return f"{num(v.get('systolic_mmhg'), lang)}/{num(v.get('diastolic_mmhg'), lang)}"
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return f"{num(v[0], lang)}/{num(v[1], lang)}"
    return num(v, lang)


def _alc(v: Any, lang: str) -> str:
    return num(v, lang, 3)


def _minute(v: Any, lang: str) -> str:
    return num(v, lang)


def _band(d: dict[str, Any], lang: str, unit: dict[str, str]) -> str:
    lo, hi = d.get("band_low", []), d.get("band_high", [])
    # a stored reason is rendered as it is, even if one list is short
    parts = [f"{num(a, lang)}–{num(b, lang)}" for a, b in zip(lo, hi, strict=False)]
    return " / ".join(parts) + " " + unit[lang]


MMHG = {"ru": "мм рт. ст.", "en": "mmHg"}
PER_MIN = {"ru": "уд/мин", "en": "/min"}


def _group(d: dict[str, Any], lang: str) -> str:
    group: str = d.get("group", "")
    return GROUP_NAMES.get(group, {}).get(lang, group)


def _problem(p: dict[str, Any], lang: str) -> str:
    code = p.get("code")
    fname = FIELD_NAMES.get(p.get("field", ""), {}).get(lang, p.get("field", ""))
    dec = _DECIMALS.get(p.get("field", ""))
    if code == "device_flag":
        return ("прибор сообщил об ошибке: " if lang == "ru" else "the device reported: ") + str(p.get("reason"))
    if code == "no_value":
        return f"{fname}: " + ("прибор не выдал значение" if lang == "ru" else "the device gave no value")
    if code == "out_of_range":
        v, lo, hi = num(p["value"], lang, dec), num(p["min"], lang), num(p["max"], lang)
        return (f"{fname} {v} вне диапазона {lo}–{hi}" if lang == "ru" else f"{fname} {v} outside {lo}–{hi}")
    if code == "sbp_not_above_dbp":
        bp = f"{num(p['systolic'], lang)}/{num(p['diastolic'], lang)}"
        return (f"систолическое давление не выше диастолического ({bp})" if lang == "ru"
                else f"systolic pressure not above diastolic ({bp})")
    if code == "pulse_pressure":
        v, lo, hi = num(p["value"], lang), num(p["min"], lang), num(p["max"], lang)
        return (f"пульсовое давление {v} вне диапазона {lo}–{hi}" if lang == "ru"
                else f"pulse pressure {v} outside {lo}–{hi}")
    if code == "oximeter_mismatch":
        c, o, mx = num(p["cuff"], lang), num(p["oximeter"], lang), num(p["max_difference"], lang)
        return (f"пульс по манжете ({c}) и по оксиметру ({o}) различается более чем на {mx}" if lang == "ru"
                else f"cuff pulse ({c}) and oximeter pulse ({o}) differ by more than {mx}")
    if code == "low_perfusion":
        v, lo = num(p["value"], lang), num(p["min"], lang)
        return (f"индекс перфузии {v} % ниже {lo} %" if lang == "ru" else f"perfusion index {v} % below {lo} %")
    return str(code)


def _finding(f: "Fired", lang: str) -> str:  # noqa: C901 - one branch per rule, on purpose
    ru = lang == "ru"
    r, v, d = f.rule, f.value, f.detail
    if r in ("bp.high", "bp.low"):
        high = r == "bp.high"
        bp = _bp(v, lang)
        if d.get("basis") == "individual":
            band = _band(d, lang, MMHG)
            text = (f"Артериальное давление {bp} {MMHG['ru']} — {'выше' if high else 'ниже'} вашей индивидуальной нормы ({band})."
                    if ru else f"Blood pressure {bp} mmHg is {'above' if high else 'below'} your individual norm ({band}).")
        else:
            lim = _bp(d.get("limit"), lang)
            if high:
                text = (f"Артериальное давление {bp} {MMHG['ru']} — выше допустимого (порог {lim} {MMHG['ru']} и выше)."
                        if ru else f"Blood pressure {bp} mmHg is at or above the admission limit of {lim} mmHg.")
            else:
                text = (f"Артериальное давление {bp} {MMHG['ru']} — ниже допустимого (порог: ниже {lim} {MMHG['ru']})."
                        if ru else f"Blood pressure {bp} mmHg is below the admission limit of {lim} mmHg.")
        return text + _retest_note(f, lang)
    if r == "pulse":
        high = d.get("direction") == "high"
        p = num(v, lang)
        if d.get("basis") == "individual":
            band = _band(d, lang, PER_MIN)
            text = (f"Пульс {p} {PER_MIN['ru']} — {'выше' if high else 'ниже'} вашей индивидуальной нормы ({band})."
                    if ru else f"Pulse {p}/min is {'above' if high else 'below'} your individual norm ({band}).")
        else:
            lo, hi = (num(x, lang) for x in d.get("limit", ["?", "?"]))
            text = (f"Пульс {p} {PER_MIN['ru']} — {'выше' if high else 'ниже'} допустимого (норма {lo}–{hi} {PER_MIN['ru']})."
                    if ru else f"Pulse {p}/min is {'above' if high else 'below'} the admission range {lo}–{hi}/min.")
        return text + _retest_note(f, lang)
    if r == "bp.severe":
        bp, lim = _bp(v, lang), _bp(d.get("limit"), lang)
        return (f"Очень высокое артериальное давление: {bp} {MMHG['ru']} (порог {lim} {MMHG['ru']} и выше)."
                if ru else f"Very high blood pressure: {bp} mmHg (limit {lim} mmHg or higher).")
    if r in ("bp.individual", "pulse.individual"):
        is_bp = r == "bp.individual"
        what = ("Артериальное давление" if is_bp else "Пульс") if ru else ("Blood pressure" if is_bp else "Pulse")
        if f.effect == "ignored":
            return _norm_ignored(d, lang)
        if d.get("why") == "ceiling":
            val, lim = _bp(v, lang), _bp(d.get("ceiling"), lang)
            return (f"Артериальное давление {val} {MMHG['ru']} — {lim} {MMHG['ru']} и выше: "
                    "индивидуальная норма не допускает такие значения."
                    if ru else f"Blood pressure {val} mmHg is at or above {lim} mmHg: an individual norm never admits such values.")
        val = _bp(v, lang) if is_bp else num(v, lang)
        unit = MMHG if is_bp else PER_MIN
        band = _band(d, lang, unit)
        return (f"{what} {val} {unit['ru']} — вне общих границ, но в пределах вашей индивидуальной нормы ({band}); принято."
                if ru else f"{what} {val} {unit['en']} is outside the general limits but within your individual norm ({band}); accepted.")
    if r == "pulse.severe":
        p, (lo, hi) = num(v, lang), (num(x, lang) for x in d.get("limit", ["?", "?"]))
        return (f"Пульс {p} {PER_MIN['ru']} — {hi} и выше или {lo} и ниже: опасное отклонение." if ru
                else f"Pulse {p}/min is {hi} or above, or {lo} or below: a dangerous deviation.")
    if r == "temp.low":
        t, lim = num(v, lang, 1), num(d.get("limit"), lang)
        if f.effect == "remeasure":
            return (f"Температура тела {t} °C — ниже {lim} °C; возможно, термометр был расположен неправильно."
                    if ru else f"Body temperature {t} °C is below {lim} °C; the thermometer may have been misplaced.")
        return (f"Температура тела {t} °C — ниже {lim} °C и при повторном измерении." if ru
                else f"Body temperature {t} °C is below {lim} °C on the repeat measurement too.")
    if r == "temp":
        t, lim = num(v, lang, 1), num(d.get("limit"), lang)
        return (f"Температура тела {t} °C — {lim} °C и выше." if ru
                else f"Body temperature {t} °C is at or above {lim} °C.")
    if r == "spo2.low":
        s, lim = num(v, lang), num(d.get("limit"), lang)
        return (f"Сатурация кислорода {s} % — ниже {lim} %." if ru
                else f"Blood oxygen saturation {s} % is below {lim} %.")
    if r == "alcohol":
        a, lim = _alc(v, lang), num(d.get("limit"), lang)
        if d.get("test") == 2:
            first = _alc(d.get("first_value"), lang)
            return (f"Повторное исследование подтвердило алкоголь в выдыхаемом воздухе: {a} мг/л (первое: {first} мг/л; порог {lim} мг/л)."
                    if ru else f"The second breath test confirmed alcohol: {a} mg/L (first test {first} mg/L; limit {lim} mg/L).")
        return (f"Алкоголь в выдыхаемом воздухе: {a} мг/л (порог {lim} мг/л и выше). Нужно повторное исследование."
                if ru else f"Breath alcohol {a} mg/L (limit {lim} mg/L or higher). A second test is needed.")
    if r == "alcohol.trace":
        a, lim = _alc(v, lang), num(d.get("limit"), lang)
        if d.get("test") == 2:
            first = _alc(d.get("first_value"), lang)
            return (f"Следы алкоголя сохраняются при повторном исследовании: {a} мг/л (первое: {first} мг/л)."
                    if ru else f"Traces of alcohol remain at the second test: {a} mg/L (first test {first} mg/L).")
        return (f"Следы алкоголя в выдыхаемом воздухе: {a} мг/л (ниже {lim} мг/л; возможно, от ополаскивателя или лекарства)."
                if ru else f"Traces of breath alcohol: {a} mg/L (below {lim} mg/L; possibly mouthwash or medicine).")
    if r == "alcohol.unconfirmed":
        a, first = _alc(v, lang), _alc(d.get("first_value"), lang)
        if d.get("over_range"):
            return (f"Предыдущая проба на алкоголь была выше диапазона прибора ({first} мг/л), повторная — {a} мг/л: результаты противоречат друг другу."
                    if ru else f"An earlier breath test was above the analyser's range ({first} mg/L), the next one {a} mg/L: the results contradict each other.")
        return (f"Первое исследование на алкоголь показало {first} мг/л, повторное — {a} мг/л: результат не подтверждён."
                if ru else f"The first breath test showed {first} mg/L, the second {a} mg/L: the result is not confirmed.")
    if r == "alcohol.window":
        m, lo, hi = _minute(f.minute, lang), _minute(d.get("window_from"), lang), _minute(d.get("window_to"), lang)
        return (f"Повторное исследование на алкоголь проведено на {m}-й минуте — вне допустимого интервала ({lo}–{hi}-я минута)."
                if ru else f"The second breath test at minute {m} was outside the allowed window (minute {lo}–{hi}).")
    if r == "complaints":
        return f"Жалоба: «{v}»." if ru else f"Complaint: “{v}”."
    if r == "psychoactive":
        if d.get("urine_test") == "requested":
            return ("Признаки опьянения при отрицательной пробе на алкоголь: требуется исследование мочи на психоактивные вещества."
                    if ru else "Signs of intoxication with a negative breath alcohol test: a urine test for psychoactive substances is required.")
        return ("Признаки опьянения: нужна оценка медицинского работника (при отрицательной пробе на алкоголь — исследование мочи на психоактивные вещества)."
                if ru else "Signs of intoxication: the medical worker must assess them (with a negative breath test, a urine test for psychoactive substances).")
    if r == "retest.interval":
        m, due, g = _minute(f.minute, lang), _minute(d.get("not_before_minute"), lang), _group(d, lang)
        return (f"Повторное измерение ({g}) на {m}-й минуте — слишком рано: разрешено не ранее {due}-й минуты; не учтено."
                if ru else f"The repeat {g} measurement at minute {m} was too early (allowed from minute {due}); it was not counted.")
    if r == "retest.count":
        m, g = _minute(f.minute, lang), _group(d, lang)
        n = num(f.detail.get("max_retests", 2), lang) if "max_retests" in f.detail else None
        if n is None:
            return (f"Ещё одно повторное измерение ({g}) на {m}-й минуте сверх допустимого числа повторов; не учтено."
                    if ru else f"A further repeat {g} measurement at minute {m} exceeds the allowed number of re-tests; it was not counted.")
        return (f"Повторное измерение ({g}) на {m}-й минуте сверх допустимых {n}; не учтено."
                if ru else f"The repeat {g} measurement at minute {m} exceeds the maximum of {n} re-tests; it was not counted.")
    if r.startswith("plausibility."):
        g = _group(d, lang)
        probs = "; ".join(_problem(p, lang) for p in d.get("problems", []))
        return (f"Показание не может быть использовано ({g}): {probs}." if ru
                else f"The {g} reading cannot be used: {probs}.")
    if r == "device.no_valid_reading":
        g = _group(d, lang)
        return (f"Прибор не смог получить достоверное измерение ({g}) после {v} попыток." if ru
                else f"The device could not obtain a valid {g} reading after {v} attempts.")
    if r == "required.missing":
        g = _group(d, lang)
        return (f"Не выполнено обязательное измерение: {g}." if ru else f"A required measurement was not taken: {g}.")
    return r


_NORM_IGNORED = {
    "no_readings_count": ("не указано, по скольким измерениям она рассчитана (нужно не менее {mn})",
                          "the number of readings it is based on is not given (at least {mn} are needed)"),
    "too_few_readings": ("рассчитана по {n} измерениям, нужно не менее {mn}",
                         "it is based on {n} readings, at least {mn} are needed"),
    "not_approved": ("нет утверждения врачом (кто и когда утвердил)",
                     "it is not approved by a physician (who and when)"),
    "implausible_norm": ("недостоверные значения нормы", "its values are implausible"),
    "norm_above_severe": ("значения нормы на уровне опасного отклонения или выше",
                          "its values are at or beyond the dangerous-deviation thresholds"),
}


def _norm_ignored(d: dict[str, Any], lang: str) -> str:
    """Why an individual norm was not applied (issue 13, error 4)."""
    ru_text, en_text = _NORM_IGNORED.get(d.get("why", ""), _NORM_IGNORED["implausible_norm"])
    text = (ru_text if lang == "ru" else en_text).format(n=d.get("n_readings"), mn=d.get("min_readings"))
    return (f"Индивидуальная норма не применена: {text}." if lang == "ru"
            else f"Individual norm not applied: {text}.")


def _retest_note(f: "Fired", lang: str) -> str:
    d = f.detail
    k, n = d.get("retest_number", 0), d.get("max_retests")
    if f.effect == "needs_medic" and n is not None:
        return (f" Отклонение сохраняется после {n} повторных измерений." if lang == "ru"
                else f" Still out of range after {n} repeat measurements.")
    if k:
        return f" Это повторное измерение {k} из {n}." if lang == "ru" else f" This was repeat measurement {k} of {n}."
    return ""


def _consequence(f: "Fired", lang: str, outcome: str | None = None) -> str:
    ru = lang == "ru"
    d = f.detail
    if f.effect in ("retest", "remeasure") and outcome not in (None, "retest", "remeasure"):
        return ""  # history, or superseded by a final outcome: no call to action
    if f.effect == "remeasure" and f.rule == "required.missing":
        return " Выполните это измерение сейчас." if ru else " Please take this measurement now."
    if f.effect == "retest":
        due = d.get("not_before_minute")
        until = d.get("not_after_minute")
        if due is None:
            return ""
        if until is not None:
            return (f" Повторите не ранее {_minute(due, lang)}-й и не позднее {_minute(until, lang)}-й минуты осмотра."
                    if ru else f" Repeat between minute {_minute(due, lang)} and minute {_minute(until, lang)} of the exam.")
        return (f" Повторное измерение — не ранее {_minute(due, lang)}-й минуты осмотра." if ru
                else f" Repeat the measurement at minute {_minute(due, lang)} of the exam or later.")
    if f.effect == "remeasure":
        return " Повторите измерение сейчас." if ru else " Please repeat the measurement now."
    if f.effect == "needs_medic":
        return " Требуется решение медицинского работника." if ru else " The medical worker must decide."
    if f.effect == "not_admitted":
        return " Не допущен к работе." if ru else " Not admitted to work."
    return ""


def render_reason(f: "Fired", outcome: str | None = None) -> "Reason":
    """What was found and (for the entries that ask for it) what to do next.

    With ``outcome`` given, re-test / re-measure calls to action are left out once the
    exam has a final outcome (they are history, or superseded by the medic's hold).
    """
    from .models import Reason

    return Reason(rule=f.rule, **{lang: (_finding(f, lang) + _consequence(f, lang, outcome)).strip() for lang in LANGS})


def render_summary(decision: "Decision") -> dict[str, str]:
    """Headline for the screen and slip, followed by the decisive findings."""
    o = decision.outcome
    out: dict[str, str] = {}
    for lang in LANGS:
        ru = lang == "ru"
        if o == "admitted":
            head = "Допущен к работе." if ru else "Admitted to work."
        elif o == "not_admitted":
            head = "Не допущен к работе." if ru else "Not admitted to work."
        elif o == "needs_medic":
            head = ("Ожидайте медицинского работника: требуется его решение." if ru
                    else "Please wait for the medical worker, who must decide.")
        elif o == "retest":
            m = _minute(decision.retest_not_before_minute, lang)
            head = (f"Повторное измерение не ранее {m}-й минуты осмотра. Подождите, вас вызовут." if ru
                    else f"Repeat measurement at minute {m} of the exam or later. Please wait, you will be called back.")
        else:
            groups = [p.group for p in decision.pending if p.action == "remeasure"]
            names = ", ".join(GROUP_NAMES[g][lang] for g in groups)
            head = f"Повторите измерение сейчас: {names}." if ru else f"Please repeat now: {names}."
        decisive = [_finding(f, lang) for f in decision.fired if f.effect == o]
        out[lang] = " ".join([head, *decisive])
    return out
