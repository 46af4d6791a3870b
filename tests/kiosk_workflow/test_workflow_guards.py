"""The pure parts of issue 15's kiosk fixes: the tap guard, tickets, identity photos (and
their contract model), the roster's number prefixes and the demo sign-in, the screen names."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from edge_agent.roster import DEMO_PIN, Roster, demo_sign_in, hash_pin
from edge_agent.ui.app import screens_js
from edge_agent.workflow.photos import PhotoRefused, photo_from_upload
from edge_agent.workflow.plan import english_complaints
from edge_agent.workflow.settings import DEFAULT_SURVEY
from edge_agent.workflow.states import Screen
from edge_agent.workflow.taps import TapGuard, TapRefused
from edge_agent.workflow.tickets import Tickets
from firmware_bridges.contract import MAX_PHOTO_BYTES, ExamBody, IdentityPhoto

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def survey_view(question: str) -> dict:
    return {"screen": "survey", "question": {"id": question}}


def test_an_answer_needs_its_own_tap_on_its_own_question():
    guard = TapGuard()
    step = guard.new_screen()
    guard.check("answer", {"question": "q1", "step": step, "value": True}, survey_view("q1"))
    with pytest.raises(TapRefused, match="already answered"):  # the second tap of a double tap
        guard.check("answer", {"question": "q1", "step": step, "value": True}, survey_view("q1"))
    nxt = guard.new_screen()
    with pytest.raises(TapRefused, match="no longer on screen"):  # a late tap meant for q1
        guard.check("answer", {"question": "q2", "step": step}, survey_view("q2"))
    with pytest.raises(TapRefused, match="not on screen"):
        guard.check("answer", {"question": "q1", "step": nxt}, survey_view("q2"))
    with pytest.raises(TapRefused) as missing:
        guard.check("answer", {"value": True}, survey_view("q2"))
    assert missing.value.status == 422
    guard.check("answer", {"question": "q2", "step": nxt}, survey_view("q2"))


def test_cancel_stays_possible_after_a_tap_and_other_taps_without_step_pass():
    guard = TapGuard()
    step = guard.new_screen()
    guard.check("ok", {"step": step}, {"screen": "result"})
    guard.check("cancel", {"step": step}, {"screen": "result"})
    with pytest.raises(TapRefused):
        guard.check("cancel", {"step": step}, {"screen": "result"})
    guard.check("consent_accept", {}, {"screen": "consent"})  # a client without steps (the simulated workforce)


def test_tickets_skip_the_ones_held_and_wrap():
    tickets = Tickets(size=3)
    assert [tickets.next(set()) for _ in range(4)] == [1, 2, 3, 1]
    assert tickets.next({2}) == 3
    assert tickets.next({1, 2, 3}) in (1, 2, 3)
    tickets.seen(2)
    assert Tickets(size=99).next({1}) == 2


def test_photo_upload_is_checked_hashed_and_the_contract_checks_it_again():
    b64 = base64.b64encode(JPEG).decode()
    photo = photo_from_upload("breath", b64, NOW, MAX_PHOTO_BYTES, attempt=2)
    assert photo.sha256 == hashlib.sha256(JPEG).hexdigest() and photo.attempt == 2
    with pytest.raises(PhotoRefused, match="not a JPEG"):
        photo_from_upload("breath", base64.b64encode(b"\x89PNG....").decode(), NOW, MAX_PHOTO_BYTES)
    with pytest.raises(PhotoRefused, match="more than"):
        photo_from_upload("breath", b64, NOW, 100)
    with pytest.raises(PhotoRefused, match="base64"):
        photo_from_upload("breath", "not base64!", NOW, MAX_PHOTO_BYTES)
    forged = photo.model_dump(mode="json") | {"sha256": "0" * 64}
    with pytest.raises(ValidationError, match="does not match"):
        IdentityPhoto.model_validate(forged)
    body = {"exam_id": "e1", "worker_id": "W00001", "exam_type": "pre_shift", "started_at": NOW.isoformat(),
            "finished_at": NOW.isoformat(), "outcome": "admitted", "rule_set_version": "1",
            "identity_photos": [photo.model_dump(mode="json")]}
    assert ExamBody.model_validate(body).identity_photos[0].sha256 == photo.sha256
    with pytest.raises(ValidationError):
        ExamBody.model_validate(body | {"identity_photos": [forged]})


def test_roster_prefixes_pin_failures_and_the_demo_worker(tmp_path):
    roster = Roster(tmp_path / "roster.db")
    try:
        workers = [{"personnel_number": n, "full_name": "Тестов Тест", "pin_hash": hash_pin(pin, iterations=1000)}
                   for n, pin in (("W00002", "1234"), ("W00001", DEMO_PIN), ("T-1001", DEMO_PIN), ("42", "1"))]
        roster.apply_update({"full": True, "workers": workers})
        assert roster.number_prefixes() == ["T-", "W"]
        assert demo_sign_in(roster) == ("T-1001", DEMO_PIN)
        roster.apply_update({"remove": ["T-1001"]})
        assert demo_sign_in(roster) == ("W00001", DEMO_PIN)
        assert roster.pin_failures("W00002") == 0
        roster.check_pin("W00002", "9999", max_failures=3, lock_s=60, now=NOW)
        assert roster.pin_failures("W00002") == 1
        assert demo_sign_in(roster, pin="5555") is None
    finally:
        roster.close()


def test_complaint_names_are_translated_for_english_screens():
    text = "Complaint: “не выспался”. Complaint: “приём лекарств”."
    assert english_complaints(text, DEFAULT_SURVEY) == "Complaint: “did not sleep enough”. Complaint: “took medication”."


def test_the_page_gets_the_screen_names_from_the_workflow_enum():
    js = screens_js()
    for screen in Screen:
        assert f'"{screen.name}": "{screen.value}"' in js


def test_the_page_names_screens_only_through_the_enum():
    import re

    from edge_agent.ui.app import STATIC

    js = (STATIC / "kiosk.js").read_text(encoding="utf-8")
    assert set(re.findall(r"\bS\.([A-Z_]+)", js)) == {screen.name for screen in Screen}
    assert not re.search(r"\bs [!=]== \"", js), "a screen compared by a literal name"


def test_the_demo_finds_a_worker_to_sign_in_with_at_a_configured_kiosk(tmp_path):
    from edge_agent.runtime import demo_credentials

    config = tmp_path / "kiosk.toml"
    config.write_text(f"""
[identity]
site = "plant-1"
kiosk = "gate-1"
signing_key = "{tmp_path / 'key.pem'}"

[journal]
path = "{tmp_path / 'data' / 'journal.db'}"
""", encoding="utf-8")
    assert demo_credentials(config) is None  # no roster yet
    roster = Roster(tmp_path / "data" / "roster.db")
    try:
        roster.apply_update({"full": True, "workers": [
            {"personnel_number": "W00007", "full_name": "Тестов Тест", "pin_hash": hash_pin(DEMO_PIN, iterations=1000)}]})
    finally:
        roster.close()
    assert demo_credentials(config) == ("W00007", DEMO_PIN)


def test_the_exam_at_the_kiosk_keeps_its_photos_and_reports_a_camera_failure_once(tmp_path):
    from edge_agent.admission import load_rule_set
    from edge_agent.workflow import ManualClock, Workflow
    from edge_agent.workflow.session import ExamSession

    records: list[tuple[str, dict]] = []
    roster = Roster(tmp_path / "roster.db")
    wf = Workflow(devices=None, rules=load_rule_set(), roster=roster, record=lambda k, b: records.append((k, b)),
                  clock=ManualClock(NOW))
    b64 = base64.b64encode(JPEG).decode()
    try:
        with pytest.raises(PhotoRefused, match="no identification photo"):
            wf.add_photo("identification", b64)  # nobody at the kiosk
        session = ExamSession(exam_id="e1", worker={"personnel_number": "W00001"}, exam_type="pre_shift",
                              started_at=NOW, ticket=3)
        wf.current, wf.view = session, {"screen": Screen.CONSENT}
        assert wf._photo_wanted() == "identification"
        wf.add_photo("identification", b64)
        assert wf._photo_wanted() is None
        with pytest.raises(PhotoRefused, match="taken already"):
            wf.add_photo("identification", b64)
        wf.view = {"screen": Screen.MEASURING, "devices": [{"kind": "bp_cuff", "state": "measuring"}]}
        assert wf._photo_wanted() is None  # the breathalyzer is not in use yet
        wf.view["devices"].append({"kind": "alcotester", "state": "measuring"})
        assert wf._photo_wanted() == "breath"
        wf.add_photo("breath", b64)
        for _ in range(2):  # two re-test passes: the first pass's photos and the latest re-test's are kept
            session.attempts.append(object())
            wf.add_photo("identification", b64)
            wf.add_photo("breath", b64)
        assert [(p["stage"], p["attempt"]) for p in session.photos] == [
            ("identification", 1), ("breath", 1), ("identification", 3), ("breath", 3)]
        wf.camera_failed("NotFoundError")
        wf.camera_failed("NotFoundError")
        wf.settings.photo.enabled = False
        assert wf._photo_wanted() is None
        with pytest.raises(PhotoRefused, match="configured off"):
            wf.add_photo("breath", b64)
    finally:
        wf.writer.close()
        roster.close()
    camera = [b for k, b in records if k == "event" and b["device"] == "camera"]
    assert len(camera) == 1 and camera[0]["details"] == {"reason": "NotFoundError", "exam_id": "e1"}
