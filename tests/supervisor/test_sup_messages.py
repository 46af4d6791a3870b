"""The ru/en message catalogue and the reconnect backoff (pure)."""

from __future__ import annotations

import pytest

from edge_agent.devices.backoff import Backoff
from edge_agent.devices.config import KIND_RULES
from edge_agent.devices.messages import CATALOGUE, is_device_fault, localize, message_for
from firmware_bridges.devices import DeviceDisconnected, DeviceNotResponding, DeviceReportedError
from firmware_bridges.serial.alcotester import ERROR_MESSAGES

FMT = {"date": "2020-01-31", "offset": 42}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
@pytest.mark.parametrize("kind", sorted(KIND_RULES))
def test_every_code_and_kind_has_a_filled_message(code, kind):
    ru, en = message_for(code, kind, **FMT)
    assert ru and en and "{" not in ru + en and ru != en
    assert any("а" <= c <= "я" for c in ru.lower())  # Russian first
    assert en[0].isupper()


def test_the_cuff_message_from_the_issue():
    ru, en = message_for("not_responding", "bp_cuff")
    assert ru.startswith("Манжета не отвечает: проверьте, что тонометр включён")
    assert en.startswith("The blood-pressure cuff is not responding: check that it is switched on")


def test_device_codes_reuse_the_bridge_messages():
    for code, (ru, en) in ERROR_MESSAGES.items():
        assert message_for(code, "alcotester") == (ru, en)
    err = DeviceReportedError("Ошибка Modbus 02", "Modbus exception 02", code="modbus_exception_2", kind="noise")
    assert message_for("modbus_exception_2", "noise", err) == ("Ошибка Modbus 02", "Modbus exception 02")
    ru, en = message_for("modbus_exception_7", "noise")
    assert "modbus_exception_7" in en and ru


def test_localize_keeps_class_code_details_and_cause():
    err = DeviceNotResponding.for_kind("bp_cuff", "not seen advertising within 0.3 s", details={"attempts": 3})
    out = localize(err, "bp_cuff")
    assert isinstance(out, DeviceNotResponding) and out.code == "not_responding" and out.kind == "bp_cuff"
    assert out.message_ru.startswith("Манжета не отвечает") and out.details["attempts"] == 3
    assert "not seen advertising" in out.details["bridge_message_en"] and out.__cause__ is err
    same = DeviceDisconnected.for_kind("alcotester")
    assert localize(same, "alcotester") is same  # the bridge message is already the catalogue's choice


def test_fault_classification():
    for code in ("not_responding", "disconnected", "protocol_error", "E05", "E06", "modbus_exception_4", "detector_fault"):
        assert is_device_fault(code), code
    for code in ("E01", "E07", "E08", "implausible", "no_valid_value", "E11"):
        assert not is_device_fault(code), code


def test_backoff_doubles_caps_and_resets():
    b = Backoff(0.5, 4.0)
    assert [b.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    b.reset()
    assert b.next() == 0.5
    b.failures = 10_000
    assert b.next() == 4.0
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)
