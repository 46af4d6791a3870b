"""The journal's cells that depend on states the fed hub rarely shows: signature and seal states, invalid
values, answers outside the default survey, missing worker data."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hub.exports import journal
from hub.exports.source import StoredExam

UTC = ZoneInfo("UTC")


def stored(body: dict | None = None, decision: dict | None = None, chain_status: str = "ok") -> StoredExam:
    row = {"event_id": "e-1", "site": "plant-1", "kiosk": "kiosk-01", "worker_id": "W1", "exam_type": "pre_shift",
           "started_at": "2026-03-02T05:58:00+00:00", "finished_at": "2026-03-02T06:01:00+00:00",
           "outcome": "needs_medic", "chain_status": chain_status, "received_at": "2026-03-02T06:01:01+00:00"}
    return StoredExam(row, body or {}, decision)


DECISION = {"decision_id": "d-1", "decision": "admitted", "medic": "Петрова А. В.",
            "decided_at": "2026-03-02T06:10:00+00:00", "reason": "давление снизилось", "referral": None,
            "notify_employer": False}


@pytest.mark.parametrize("status,text", [("valid", "ЭП: подписано, подпись верна"), ("unsigned", "ЭП: не подписано"),
                                         ("invalid", "ЭП: ПОДПИСЬ НЕДЕЙСТВИТЕЛЬНА"),
                                         ("something-new", "ЭП: ПОДПИСЬ НЕДЕЙСТВИТЕЛЬНА")])
def test_medic_cell_states_the_signature(status, text):
    cell = journal.medic_cell(stored(decision={**DECISION, "signature": {"status": status}}), UTC, "ru")
    assert cell == f"Петрова А. В.; решение 02.03.2026 06:10; {text}"


def test_conclusion_prefers_the_medic_and_keeps_the_reason():
    exam = stored({"reasons": [{"rule": "bp.high", "ru": "Высокое давление.", "en": "High BP."}]}, DECISION)
    assert journal.conclusion(exam, "ru") == ("допущен (решение медработника): Высокое давление; "
                                              "основание: давление снизилось")
    assert journal.conclusion(stored({}), "en") == "medic's decision needed (kiosk's pre-decision)"


@pytest.mark.parametrize("status,text", [("broken_link", "нарушена цепочка записей"),
                                         ("unknown_key", "ключ киоска не зарегистрирован"), ("weird", "weird")])
def test_worker_cell_states_the_kiosk_seal(status, text):
    assert journal.worker_signature(stored(chain_status=status), UTC, "ru").endswith(f"печать киоска: {text}")


def test_invalid_values_unknown_answers_and_missing_worker():
    body = {"answers": {"slept_enough": False, "custom_q": "да"},
            "measurements": [{"field": "systolic_mmhg", "value": None, "attempt": 1},
                             {"field": "diastolic_mmhg", "value": 80, "attempt": 1},
                             {"field": "brac_mg_l", "value": 0.0, "attempt": 1}]}
    cells = journal.row(stored(body), UTC)
    assert len(cells) == 13
    assert cells[1] == cells[2] == cells[3] == "нет данных"
    assert cells[5] == "не выспался; custom_q: да"
    assert cells[7] == "АД недостоверно/80 мм рт. ст."
    assert cells[8] == "0,000 мг/л"
