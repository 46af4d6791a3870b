"""Durable journal writes never run on the kiosk's event loop.

The journal here is :class:`SlowJournal`: every append takes 0.5 s (a stand-in for a slow
SD-card fsync under ``synchronous=FULL``). A ticker task counts on the event loop; each
append notes the ticker's count when it began and when it ended. On the loop the count
could not move during an append; off the loop it keeps counting. Also: appends handed
over from the loop reach the journal in the order they were handed over.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timezone

import httpx

from edge_agent.config import KioskConfig
from edge_agent.runtime import KioskRuntime, RuntimeSettings
from firmware_bridges.readings import Reading
from tests.async_helpers import run_async
from tests.kiosk_resume.resume_helpers import ScriptedDevices, SlowJournal, Ticker, journal_exams, kiosk, script

SEVERAL = 5  # ticks of 10 ms during a 0.5 s append: about 50 when the loop is free, 0 when it is blocked


def assert_off_the_loop(appends: list[dict]) -> None:
    for a in appends:
        assert a["end"] - a["start"] >= SEVERAL, f"the event loop stood still during a journal append: {a}"
        assert a["thread"].startswith("journal-writer"), a


def test_the_workflow_journals_the_exam_off_the_event_loop(tmp_path, monkeypatch):
    monkeypatch.setattr("edge_agent.agent.Journal", SlowJournal)

    async def scenario():
        ticker = Ticker().start()
        monkeypatch.setattr(SlowJournal, "ticker", ticker)
        try:
            async with kiosk(tmp_path, ScriptedDevices(script())) as k:
                await k.badge_and_survey()
                assert (await k.screen("result"))["outcome"] == "admitted"
                k.workflow.record_event("test_event", "info", ru="проверка", en="check")
                await k.agent.writer.run(lambda: None)  # the writer is in order: the event is written now
                appends = list(k.agent.journal.appends)
        finally:
            await ticker.stop()
        assert [a["kind"] for a in appends] == ["exam", "event"]
        assert_off_the_loop(appends)
        assert len(journal_exams(tmp_path)) == 1

    run_async(scenario())


def test_runtime_device_callbacks_telemetry_and_commands_journal_off_the_loop_in_order(tmp_path, broker,
                                                                                        monkeypatch):
    monkeypatch.setattr("edge_agent.agent.Journal", SlowJournal)
    config = KioskConfig.model_validate({
        "identity": {"site": "plant-1", "kiosk": "gate-1", "signing_key": str(tmp_path / "key.pem")},
        "mqtt": {"host": broker.host, "port": broker.port},
        "journal": {"path": str(tmp_path / "journal.db")},
    })
    settings = RuntimeSettings.model_validate({"screen": {"port": 0},
                                               "environment": {"telemetry_every_s": 3600}})

    async def scenario():
        ticker = Ticker().start()
        monkeypatch.setattr(SlowJournal, "ticker", ticker)
        runtime = KioskRuntime(config, settings)
        try:
            url = await runtime.start()
            journal: SlowJournal = runtime.agent.journal
            # a device turns faulty (supervisor health callback, on the loop)
            runtime._on_health("cuff", {"state": "fault", "kind": "bp_cuff", "code": "not_responding",
                                        "message_ru": "Тонометр не отвечает", "message_en": "BP monitor not responding"})
            # a noise reading over the limit (environment callback: alarm event + telemetry batch)
            runtime._on_environment("noise-1", Reading(noise_dba=95.0, received_at=datetime.now(timezone.utc)))
            runtime._flush_telemetry()
            # a hub command that cannot be applied
            await runtime.handle_command("cmd", {"type": "nonsense"})
            # the screen polls its state (with the outbox depth) while an append holds the journal
            await asyncio.to_thread(journal.started.wait, 5)
            async with httpx.AsyncClient(timeout=10) as client:
                ticks, done = ticker.count, len(journal.appends)
                state = (await client.get(url + "api/state")).json()
                if len(journal.appends) > done:  # the status waited for the append: the loop must not have
                    assert ticker.count - ticks >= SEVERAL, "the screen's status read blocked the event loop"
            assert "outbox_depth" in state["kiosk"]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while len(journal.appends) < 4:
                assert loop.time() < deadline, journal.appends
                await asyncio.sleep(0.05)
            appends = list(journal.appends)
        finally:
            await runtime.stop()
            await ticker.stop()
        assert [a["kind"] for a in appends] == ["event", "event", "telemetry", "event"]
        assert_off_the_loop(appends)
        db = sqlite3.connect(tmp_path / "journal.db")
        rows = [(kind, json.loads(body)) for kind, body in db.execute("SELECT kind, body FROM journal ORDER BY seq")]
        db.close()
        assert [(k, b.get("type")) for k, b in rows] == [  # in the order they were handed over
            ("event", "device_fault"), ("event", "noise_over_limit"), ("telemetry", None), ("event", "command_rejected")]

    run_async(scenario(), timeout=60)
