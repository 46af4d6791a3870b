"""Helpers for tests/supervisor: declarations per device kind, an asyncio runner that fails
a test which leaves tasks behind, and polling waits. No mocks: every test drives a real
simulator over a real transport (pty, pymodbus TCP/socat, bumble)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, AsyncIterator, Callable

from edge_agent.devices import DeviceDeclaration, DeviceSupervisor
from firmware_bridges.contract import StatusBody
from tests.async_helpers import run_async  # noqa: F401  (re-exported for the tests here)

FAST_RETRY = {"retry_initial_s": 0.05, "retry_max_s": 0.2}




def declare(name: str, kind: str, transport: str, **kw: Any) -> DeviceDeclaration:
    identity = kw.pop("identity", {"model": f"SIM-{kind}", "serial": f"SN-{name}", "verified_until": "2099-12-31"})
    for k, v in FAST_RETRY.items():
        kw.setdefault(k, v)
    return DeviceDeclaration(name=name, kind=kind, transport=transport, identity=identity, **kw)


def alcotester(path: str, **kw: Any) -> DeviceDeclaration:
    opts = {"ack_timeout_s": 0.4, "test_timeout_s": 5.0, "idle_timeout_s": 0.6, **kw.pop("options", {})}
    kw.setdefault("check_interval_s", 0.2)
    return declare("alc", "alcotester", "serial", path=path, options=opts, **kw)


def badge(path: str, **kw: Any) -> DeviceDeclaration:
    return declare("badge", "badge_reader", "serial", path=path, **kw)


def particulate(path: str, **kw: Any) -> DeviceDeclaration:
    opts = {"frame_timeout_s": 0.5, **kw.pop("options", {})}
    return declare("pm", "particulate", "serial", path=path, zone="gate-1", options=opts, **kw)


def modbus(kind: str, host: str, port: int, **kw: Any) -> DeviceDeclaration:
    opts = {"poll_interval_s": 0.05, "timeout_s": 0.3, "retries": 0, **kw.pop("options", {})}
    return declare(kw.pop("name", kind), kind, "modbus-tcp", host=host, port=port, zone="shop-3", options=opts, **kw)


async def wait_until(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def state(sup: DeviceSupervisor, name: str) -> tuple[str, str]:
    h = sup.health()[name]
    return h["state"], h["code"]


def check_health_contract(sup: DeviceSupervisor) -> dict:
    """health() is JSON-serialisable, fits the status body, and every entry has the keys."""
    health = sup.health()
    json.dumps(health)
    StatusBody.model_validate({"state": "online", "devices": health})
    keys = {"kind", "model", "serial", "verified_until", "state", "code", "message_ru", "message_en",
            "last_reading_at", "since"}
    for entry in health.values():
        assert keys <= set(entry)
        assert entry["state"] in ("ok", "connecting", "fault", "disabled")
        assert entry["message_ru"] and entry["message_en"]
    return health


@contextlib.asynccontextmanager
async def supervised(decls: list[DeviceDeclaration], **kw: Any) -> AsyncIterator[DeviceSupervisor]:
    kw.setdefault("start_timeout_s", 2.0)
    sup = DeviceSupervisor(decls, **kw)
    await sup.start()
    try:
        yield sup
    finally:
        await sup.stop()


@contextlib.asynccontextmanager
async def running(coro):
    """Run a simulator coroutine as a task; always cancel and await it on exit."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
