"""Every rule has worker-readable Russian and English text; refusals always say why."""

from __future__ import annotations

import re

import pytest
from admission_testlib import APPROVED, RULES, at, bp, first, run

SCENARIOS = {
    "bp.high": lambda: run(first(**bp(152, 94))),
    "bp.low": lambda: run(first(**bp(95, 58))),
    "bp.severe": lambda: run(first(**bp(184, 112))),
    "bp.individual": lambda: run(first(**bp(152, 94)), individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95, **APPROVED}),
    "bp.individual-ceiling": lambda: run(first(**bp(162, 94)),
                                         individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95, **APPROVED}),
    "bp.individual-not-approved": lambda: run(first(**bp(152, 94)),
                                              individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95, "n_readings": 12}),
    "bp.individual-above-severe": lambda: run(first(**bp(152, 94)),
                                              individual_norm={"systolic_mmhg": 200, "diastolic_mmhg": 120, **APPROVED}),
    "bp.individual-ignored": lambda: run(first(**bp(152, 94)),
                                         individual_norm={"systolic_mmhg": 150, "diastolic_mmhg": 95, "n_readings": 3}),
    "bp.individual-high": lambda: run(first(**bp(130, 84)), individual_norm={"systolic_mmhg": 110, "diastolic_mmhg": 70, **APPROVED}),
    "pulse": lambda: run(first(pulse_bpm=120)),
    "pulse.individual": lambda: run(first(pulse_bpm=48), individual_norm={"pulse_bpm": 50, **APPROVED}),
    "pulse.severe": lambda: run(first(pulse_bpm=215)),
    "temp.low": lambda: run(first(temperature_c=34.5)),
    "temp.low-persists": lambda: run(first(temperature_c=34.5), at(1, temperature_c=34.6)),
    "temp": lambda: run(first(temperature_c=37.4)),
    "spo2.low": lambda: run(first(spo2_percent=90)),
    "alcohol": lambda: run(first(brac_mg_l=0.21), at(15, brac_mg_l=0.19)),
    "alcohol.trace": lambda: run(first(brac_mg_l=0.05), at(15, brac_mg_l=0.04)),
    "alcohol.unconfirmed": lambda: run(first(brac_mg_l=0.21), at(15, brac_mg_l=0.0)),
    "alcohol.unconfirmed-over-range": lambda: run(first(brac_mg_l=2.5), at(1, brac_mg_l=0.0)),
    "alcohol.window": lambda: run(first(brac_mg_l=0.21), at(30, brac_mg_l=0.19)),
    "complaints": lambda: run(first(), complaints=["одышка"]),
    "psychoactive": lambda: run(first(), signs_of_intoxication=True),
    "retest.interval": lambda: run(first(**bp(152, 94)), at(12, **bp(150, 92))),
    "retest.count": lambda: run(first(**bp(152, 94)), *[at(20 * i, **bp(150, 92)) for i in (1, 2, 3)]),
    "device.no_valid_reading": lambda: run(first(brac_mg_l=-0.1), at(1, brac_mg_l=-0.1), at(2, brac_mg_l=-0.1)),
    "required.missing": lambda: run(first(temperature_c=...)),
    "plausibility.bp": lambda: run(first(**bp(120, 125))),
    "plausibility.pulse": lambda: run(first(pulse_bpm=255)),
    "plausibility.temp": lambda: run(first(temperature_c=33.1)),
    "plausibility.spo2": lambda: run(first(spo2_percent=127)),
    "plausibility.alcohol": lambda: run(first(brac_mg_l=None, invalid={"brac_mg_l": "E06 CALIBRATION_OVERDUE"})),
}

ALL_IDS = {getattr(RULES.rules, k).id for k in type(RULES.rules).model_fields}


def test_scenarios_cover_every_rule():
    seen = {f.rule for make in SCENARIOS.values() for f in make().fired}
    assert seen == ALL_IDS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_texts_are_complete(name):
    d = SCENARIOS[name]()
    assert d.reasons
    for f, r in zip(d.fired, d.reasons, strict=True):
        for text in (r.ru, r.en):
            assert text and text != f.rule
            assert not re.search(r"\{|\}|None|\?\?", text), text
        assert re.search("[а-яА-Я]", r.ru), r.ru
    for lang in ("ru", "en"):
        assert d.summary[lang]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_refusal_summary_says_why(name):
    d = SCENARIOS[name]()
    if d.outcome in ("not_admitted", "needs_medic"):
        decisive = [r for f, r in zip(d.fired, d.reasons, strict=True) if f.effect == d.outcome]
        assert decisive
        # the decisive finding is in the headline text of both languages
        assert decisive[-1].en.split(".")[0] in d.summary["en"]
        assert decisive[-1].ru.split(".")[0].split(",")[0] in d.summary["ru"]


def test_russian_numbers_use_decimal_comma():
    d = run(first(temperature_c=37.4))
    assert "37,4 °C" in d.reasons[0].ru and "37.4 °C" in d.reasons[0].en
