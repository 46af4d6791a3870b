"""Modbus RTU device simulators (noise transmitter, optical smoke detector) on a real
pymodbus server (devices.md §7): RTU-over-TCP on 127.0.0.1, or RTU on a socat pty pair.

Uses the pymodbus 3.16 simulator API (``SimDevice``/``SimData`` with an ``action``
callback that updates registers live on every request), not the deprecated datastore
(§7 caveats, §11 #1). Faults are injected on the wire through pymodbus's
``trace_packet`` hook (bad CRC, garbage, silence) and through the action (exception
replies, implausible values); ``disconnect`` stops the server after ``after`` requests.

Register maps (configuration on the bridge side; these are the simulator defaults):

- noise (SONBEST SM7901, §4.1): HR ``level_address`` (default 0) = dB×10; HR 0x64 = model code.
- smoke (our default map, §5.2): HR0 = obscuration %/ft × 100, HR1 = alarm, HR2 = fault.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators import population
from simulators.serial.faults import FaultPlan


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ModbusSimConfig:
    kind: str = "noise"  # "noise" | "smoke"
    unit_id: int = 1
    level_address: int = 0  # noise: where dB×10 lives (SONBEST 0, GEMHO 0x000E)
    zone: str = "shop"
    smoke_alarm_at: float = 4.0  # %/ft obscuration above which the alarm register is set (D)
    seed: int | None = None


class ModbusDeviceSim:
    def __init__(self, config: ModbusSimConfig | None = None, faults: FaultPlan | None = None) -> None:
        self.cfg = config or ModbusSimConfig()
        self.faults = faults or FaultPlan()
        self.rng = np.random.default_rng(self.cfg.seed)
        self.requests = 0
        self.history: list[list[int]] = []  # register values served (valid), for tests
        self.server = None
        self._socat: subprocess.Popen | None = None
        self._tmpdir: str | None = None
        self._stopping: asyncio.Task | None = None
        self.smoke_level = 0.0  # %/ft; tests/CLI may raise it to trigger the alarm

    # -- register model
    def _registers(self) -> tuple[int, list[int]]:
        if self.cfg.kind == "noise":
            n = max(self.cfg.level_address + 1, 0x65)
            regs = [0] * n
            regs[0x64] = 7901  # model code register (SONBEST)
            return 0, regs
        return 0, [0, 0, 0]

    def _update(self, regs: list[int]) -> None:
        if self.cfg.kind == "noise":
            db = population.sample_noise_dba(self.rng, self.cfg.zone)
            if self.faults.hit("implausible"):
                db = 250.0
            regs[self.cfg.level_address] = int(round(db * 10)) & 0xFFFF
            self.history.append([regs[self.cfg.level_address]])
        else:
            level = max(0.0, self.smoke_level + float(self.rng.normal(0, 0.02)))
            if self.faults.hit("implausible"):
                level = 600.0
            regs[0] = int(round(level * 100)) & 0xFFFF
            regs[1] = 1 if level >= self.cfg.smoke_alarm_at else 0
            regs[2] = 0
            self.history.append(list(regs[:3]))

    async def _action(self, function_code, start_address, address, count, current_registers, set_values):
        self.requests += 1
        if self.faults.hit("device-error"):
            code = int(self.faults.error_code or 4)
            return ExcCodes(code)
        self._update(current_registers)
        return None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.faults.active("disconnect") and self.requests > self.faults.after:
            if self._stopping is None:
                self._stopping = asyncio.get_running_loop().create_task(self._shutdown_server())
            return b""
        if self.faults.active("silent"):
            return b""
        if self.faults.hit("bad-checksum"):
            data = data[:-2] + bytes([data[-2] ^ 0xFF, data[-1]])
        if self.faults.hit("garbage"):
            data = self.faults.garbage() + data
        return data

    def _device(self) -> SimDevice:
        start, regs = self._registers()
        return SimDevice(
            self.cfg.unit_id,
            simdata=[SimData(start, values=regs, datatype=DataType.REGISTERS)],
            action=self._action,
        )

    # -- lifecycle
    async def start_tcp(self, host: str = "127.0.0.1", port: int | None = None) -> tuple[str, int]:
        port = port or free_tcp_port()
        self.server = ModbusTcpServer(self._device(), framer=FramerType.RTU, address=(host, port), trace_packet=self._trace)
        await self.server.serve_forever(background=True)
        self.where = f"{host}:{port}"
        return host, port

    async def start_serial(self, link: str | None = None, baudrate: int = 9600) -> str:
        """Start socat pty pair; serve on one end; return the path the bridge opens."""
        if not shutil.which("socat"):
            raise RuntimeError("socat is not installed (apt-get install socat)")
        self._tmpdir = tempfile.mkdtemp(prefix="ohs-modbus-")
        server_end = os.path.join(self._tmpdir, "server")
        client_end = link or os.path.join(self._tmpdir, "client")
        self._socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={server_end}", f"pty,raw,echo=0,link={client_end}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(200):
            if os.path.exists(server_end) and os.path.exists(client_end):
                break
            await asyncio.sleep(0.01)
        else:
            await self.stop()
            raise RuntimeError("socat did not create the pty pair")
        self.server = ModbusSerialServer(
            self._device(), framer=FramerType.RTU, port=server_end, baudrate=baudrate, trace_packet=self._trace
        )
        await self.server.serve_forever(background=True)
        self.where = client_end
        return client_end

    async def _shutdown_server(self) -> None:
        srv, self.server = self.server, None
        if srv is not None:
            await srv.shutdown()

    async def stop(self) -> None:
        if self._stopping is not None:
            try:
                await self._stopping
            except Exception:
                pass
        srv, self.server = self.server, None
        if srv is not None:
            try:
                await srv.shutdown()
            except Exception:
                pass
        if self._socat is not None:
            self._socat.terminate()
            try:
                self._socat.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._socat.kill()
                self._socat.wait()
            self._socat = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


