"""Roster cache (SQLite), ESC/POS encoding, and the printer driver against the pty printer simulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from edge_agent.roster import Roster, RosterError, hash_pin, verify_pin
from firmware_bridges.devices import DeviceNotResponding, DeviceReportedError, SerialSettings
from firmware_bridges.serial import escpos
from firmware_bridges.serial.printer import PrinterSettings, ReceiptPrinter
from simulators.serial.printer import PrinterSim
from simulators.serial.pty import PtyPort

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)


def worker(number="T-1", badge="0006102437", **kw):
    return {"personnel_number": number, "full_name": "Иванов Иван", "birth_date": "1985-04-12", "sex": "M",
            "badges": [badge], "pin_hash": hash_pin("4321", iterations=1000), **kw}


def test_roster_finds_by_badge_in_any_format_and_survives_reopening(tmp_path):
    roster = Roster(tmp_path / "roster.db")
    roster.apply_update({"version": "v1", "full": True, "workers": [worker(individual_norm={
        "systolic_mmhg": 150, "diastolic_mmhg": 95, "n_readings": 12})]})
    assert roster.by_badge("6102437")["personnel_number"] == "T-1"
    assert roster.by_badge(" 0006102437 ")["individual_norm"]["systolic_mmhg"] == 150
    assert roster.by_badge("123") is None
    roster.close()
    again = Roster(tmp_path / "roster.db")
    assert again.version() == "v1" and again.count() == 1
    again.close()


def test_consent_is_recorded_and_kept_across_a_full_roster_replacement(tmp_path):
    roster = Roster(tmp_path / "roster.db")
    roster.apply_update({"full": True, "workers": [worker()]})
    assert roster.by_number("T-1")["consent_given_at"] is None
    roster.record_consent("T-1", "gate-1", "2026-1", NOW)
    roster.apply_update({"full": True, "workers": [worker(), worker("T-2", "0000000002")]})
    assert roster.by_number("T-1")["consent_given_at"] == NOW.isoformat()
    roster.apply_update({"remove": ["T-2"], "workers": []})
    assert roster.by_number("T-2") is None and roster.count() == 1
    roster.close()


def test_a_bad_roster_update_is_refused_whole_with_the_reason(tmp_path):
    roster = Roster(tmp_path / "roster.db")
    roster.apply_update({"full": True, "workers": [worker()]})
    with pytest.raises(RosterError, match=r"workers\[1\].*birth_date"):
        roster.apply_update({"full": True, "workers": [worker("T-5"), worker("T-6", "9", birth_date="12.04.1985")]})
    with pytest.raises(RosterError, match="given to both"):
        roster.apply_update({"workers": [worker("T-7", "77"), worker("T-8", "0077")]})
    assert roster.count() == 1 and roster.by_number("T-5") is None
    roster.close()


def test_pin_check_counts_failures_and_locks(tmp_path):
    roster = Roster(tmp_path / "roster.db")
    roster.apply_update({"workers": [worker()]})
    assert roster.check_pin("T-1", "4321", max_failures=3, lock_s=900, now=NOW)[1] == "ok"
    assert roster.check_pin("T-9", "4321", max_failures=3, lock_s=900, now=NOW)[1] == "unknown"
    for _ in range(3):
        assert roster.check_pin("T-1", "0000", max_failures=3, lock_s=900, now=NOW)[1] == "wrong_pin"
    assert roster.check_pin("T-1", "4321", max_failures=3, lock_s=900, now=NOW)[1] == "locked"
    later = NOW + timedelta(minutes=16)
    assert roster.check_pin("T-1", "4321", max_failures=3, lock_s=900, now=later)[1] == "ok"
    assert not verify_pin("4321", "md5$x") and not verify_pin("4321", None)
    roster.close()


def test_escpos_receipt_round_trips_cyrillic_in_cp866():
    data = escpos.receipt("ПРЕДСМЕННЫЙ ОСМОТР", ["Работник: Иванов", "Таб. №: T-1", "emoji 🙂 stays"], "ДОПУЩЕН")
    assert data.startswith(b"\x1b@\x1bt\x11") and data.endswith(escpos.CUT)
    assert "Иванов".encode("cp866") in data
    job = escpos.decode(data)
    assert job["lines"][:4] == ["ПРЕДСМЕННЫЙ ОСМОТР", "ДОПУЩЕН", "Работник: Иванов", "Таб. №: T-1"]
    assert job["lines"][4] == "emoji ? stays"
    assert job["large_lines"] == ["ДОПУЩЕН"] and job["cuts"] == 1 and job["codepages"] == [17]
    with pytest.raises(escpos.EscPosDecodeError, match="unknown command"):
        escpos.decode(b"\x1b\x7fx")


def _printer(path: str, **kw) -> ReceiptPrinter:
    return ReceiptPrinter(PrinterSettings(serial=SerialSettings(port=path), status_timeout_s=0.3, **kw))


def test_printer_driver_prints_to_the_pty_simulator_and_reports_paper_out(tmp_path):
    async def scenario():
        port = PtyPort(str(tmp_path / "printer"))
        sim = PrinterSim(port)
        task = asyncio.create_task(sim.run())
        try:
            printer = _printer(port.path)
            await printer.print_lines("ОСМОТР", ["Работник: Петров"], "НЕ ДОПУЩЕН")
            jobs = await sim.wait_jobs(1)
            assert jobs[0]["lines"][:3] == ["ОСМОТР", "НЕ ДОПУЩЕН", "Работник: Петров"] and not sim.errors
            sim.paper = False
            with pytest.raises(DeviceReportedError) as info:
                await printer.print_lines("ОСМОТР", ["x"])
            assert info.value.code == "paper_out" and "бумага" in info.value.message_ru
            sim.silent = True
            with pytest.raises(DeviceNotResponding):
                await printer.print_lines("ОСМОТР", ["x"])
            assert len(sim.jobs) == 1
        finally:
            port.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_printer_on_a_missing_port_is_not_responding(tmp_path):
    with pytest.raises(DeviceNotResponding, match="not responding"):
        asyncio.run(_printer(str(tmp_path / "nothing")).print_lines("x", ["y"]))
