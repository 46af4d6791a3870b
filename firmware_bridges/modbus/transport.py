"""Modbus RTU client transport (pymodbus) with errors mapped to the device-error hierarchy.

- ``transport = "serial"``: ``AsyncModbusSerialClient`` on an RS-485 adapter or pty.
- ``transport = "rtu-over-tcp"``: ``AsyncModbusTcpClient(framer=RTU)`` — RTU frames over
  TCP (serial device servers, and the simulator without socat, devices.md §7/§8.2).

``read(specs)`` groups register specs by function code and reads each group as one
contiguous block (≤ 125 registers / 2000 bits, the Modbus PDU limit).
"""

from __future__ import annotations

import asyncio
import logging

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceNotResponding,
    DeviceProtocolError,
    DeviceReportedError,
    ModbusLink,
    RegisterSpec,
    kind_names,
)
from firmware_bridges.modbus.frames import EXCEPTION_NAMES

log = logging.getLogger(__name__)
# pymodbus logs every retry as an error: its level is set by the entry point (firmware_bridges.logsetup)


class ModbusTransport:
    def __init__(self, link: ModbusLink, kind: str | None = None) -> None:
        self.link = link
        self.kind = kind
        self.client = None
        self._rx = 0  # bytes received since the last request (to tell garbled from silent)
        #: failures that do not stop the link but must be visible (logged with the link, and counted)
        self.stats: dict[str, int] = {"connect_errors": 0, "close_errors": 0}

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self._rx = 0
        else:
            self._rx += len(data)
        return data

    def _make_client(self):
        lk = self.link
        common = dict(
            timeout=lk.timeout_s, retries=lk.retries, reconnect_delay=0, reconnect_delay_max=0, trace_packet=self._trace
        )
        if lk.transport == "rtu-over-tcp":
            return AsyncModbusTcpClient(lk.host, port=lk.tcp_port, framer=FramerType.RTU, **common)
        return AsyncModbusSerialClient(
            lk.port, framer=FramerType.RTU, baudrate=lk.baudrate, parity=lk.parity, stopbits=lk.stopbits, bytesize=8, **common
        )

    def _where(self) -> str:
        lk = self.link
        return f"{lk.host}:{lk.tcp_port}" if lk.transport == "rtu-over-tcp" else str(lk.port)

    async def open(self) -> "ModbusTransport":
        self.client = self._make_client()
        try:
            ok = await asyncio.wait_for(self.client.connect(), self.link.timeout_s + 2)
        except (asyncio.TimeoutError, OSError, ModbusException) as e:
            ok = False
            self.stats["connect_errors"] += 1
            log.info("Modbus link %s (%s): connect failed: %s: %s", self._where(), self.kind or "modbus",
                     type(e).__name__, e)
        if not ok:
            self.close()
            raise DeviceNotResponding.for_kind(self.kind, f"cannot open Modbus link {self._where()}")
        return self

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception as e:  # cleanup must not raise over the error that led here
                self.stats["close_errors"] += 1
                log.warning("Modbus link %s (%s): close failed: %s: %s", self._where(), self.kind or "modbus",
                            type(e).__name__, e)
        self.client = None

    async def read(self, specs: dict[str, RegisterSpec]) -> dict[str, int]:
        """Raw values (register value, or 0/1 for bits) per spec name."""
        out: dict[str, int] = {}
        by_fc: dict[int, list[tuple[str, RegisterSpec]]] = {}
        for name, s in specs.items():
            by_fc.setdefault(s.function, []).append((name, s))
        for fc, items in sorted(by_fc.items()):
            lo = min(s.address for _, s in items)
            hi = max(s.address for _, s in items)
            values = await self._read_block(fc, lo, hi - lo + 1)
            for name, s in items:
                out[name] = int(values[s.address - lo])
        return out

    async def _read_block(self, fc: int, address: int, count: int) -> list[int]:
        if self.client is None:
            raise DeviceDisconnected.for_kind(self.kind, "Modbus link is closed")
        call = {
            1: self.client.read_coils,
            2: self.client.read_discrete_inputs,
            3: self.client.read_holding_registers,
            4: self.client.read_input_registers,
        }[fc]
        try:
            rr = await call(address, count=count, device_id=self.link.unit_id)
        except ModbusException as e:
            connected = getattr(self.client, "connected", True)
            if not connected:
                raise DeviceDisconnected.for_kind(self.kind, f"{self._where()}: {e}") from e
            if self._rx:
                raise DeviceProtocolError.for_kind(
                    self.kind, f"unit {self.link.unit_id} at {self._where()}: reply garbled (bad CRC / garbage)"
                ) from e
            raise DeviceNotResponding.for_kind(
                self.kind, f"unit {self.link.unit_id} at {self._where()} did not answer FC{fc:02d} @{address}"
            ) from e
        except (OSError, asyncio.TimeoutError) as e:
            raise DeviceDisconnected.for_kind(self.kind, f"{self._where()}: {e}") from e
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            name = EXCEPTION_NAMES.get(code, f"exception {code}")
            ru, en = kind_names(self.kind)
            raise DeviceReportedError(
                f"{ru} вернул ошибку Modbus {code:02d} ({name}): проверьте карту регистров в конфигурации",
                f"{en} returned Modbus exception {code:02d} ({name}): check the register map in the configuration",
                code=f"modbus_exception_{code}",
                kind=self.kind,
                details={"function": fc, "address": address, "count": count},
            )
        if fc in (1, 2):
            return [int(b) for b in rr.bits[:count]]
        return list(rr.registers[:count])
