"""BLE device simulators for ``ohs-sim`` (the CLI lives in ``simulators/cli.py``).

``DEVICES``: name → (description, add_arguments(parser), async runner(args)).

Across processes (devices.md §9.2, layout A): the simulator process owns a bumble
``LocalLink`` with the simulated peripheral **and** a second virtual controller whose HCI
side is a ``tcp-server`` transport. A kiosk process attaches a bumble host to it over
``tcp-client:HOST:PORT`` and registers it as its bleak adapter::

    ohs-sim ble-thermometer --hci tcp-server:127.0.0.1:9101 --speed 1
    # kiosk / test process:
    adapter = await simulators.ble.attach_adapter("tcp-client:127.0.0.1:9101")
    ... BleakScanner(backend=BumbleScanner) / BleakClient(..., backend=BumbleClient) ...
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, Awaitable, Callable

AGENT_SIDE_ADDRESS = "F1:F1:F1:F1:F1:F1"

_DESCRIPTIONS = {
    "ble-thermometer": "BLE Health Thermometer 0x1809 (0x2A1C indications)",
    "ble-bp-cuff": "BLE Blood Pressure cuff 0x1810 (0x2A35 + 0x2A36 live cuff pressure, stored records)",
    "ble-oximeter": "BLE Pulse Oximeter 0x1822 (spot-check 0x2A5E, continuous 0x2A5F)",
    "ble-berrymed": "BerryMed BCI oximeter (vendor 5-byte packets on the transparent-UART service)",
}
_DEFAULT_ADDRESS = {
    "ble-thermometer": "F0:F0:F0:F0:F0:01",
    "ble-bp-cuff": "F0:F0:F0:F0:F0:02",
    "ble-oximeter": "F0:F0:F0:F0:F0:03",
    "ble-berrymed": "F0:F0:F0:F0:F0:04",
}


def _adder(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--hci", default="tcp-server:127.0.0.1:9101",
                       help="bumble transport a kiosk's host attaches to (default %(default)s)")
        p.add_argument("--address", default=_DEFAULT_ADDRESS[name], help="simulated device address")
        p.add_argument("--speed", type=float, default=1.0, help="timing speed-up factor (1 = real time)")
        p.add_argument("--seed", type=int, default=None, help="seed for values and faults")
        p.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE",
                       help="fault to inject, repeatable: disconnect=N garbage=N special=nan|nres|pinf|ninf|reserved "
                            "device_error=1 implausible=1 never_answers=no-advertising|silent clock_drift_s=S "
                            "clear_after_read=1 resend_stored=1 drop_on_connect=P")
        p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        if name == "ble-thermometer":
            p.add_argument("--fahrenheit", action="store_true", help="report °F")
        if name == "ble-bp-cuff":
            p.add_argument("--kpa", action="store_true", help="report kPa")
            p.add_argument("--stored", type=int, default=0, help="records already in the cuff's memory")

    return add


def _runner(name: str) -> Callable[[argparse.Namespace], Awaitable[None]]:
    async def run(args: argparse.Namespace) -> None:
        await serve(name, args)

    return run


async def serve(name: str, args: argparse.Namespace, ready: Callable[[], None] | None = None) -> None:
    """Run one simulated device reachable over ``args.hci`` until cancelled or ``--duration``."""
    from datetime import datetime, timedelta
    from decimal import Decimal

    from bumble.link import LocalLink
    from bumble.transport import open_transport

    from firmware_bridges.ble.blood_pressure import BloodPressureMeasurement
    from firmware_bridges.ble.sfloat import DateTime
    from simulators.ble.controller import attach_tcp_controller, local_device
    from simulators.ble.devices import SIMULATORS, Faults

    faults = Faults.parse(args.fault)
    extra: dict[str, Any] = {}
    if getattr(args, "fahrenheit", False):
        extra["fahrenheit"] = True
    if getattr(args, "kpa", False):
        extra["kpa"] = True
    if getattr(args, "stored", 0):
        base = datetime.now() - timedelta(days=1)
        extra["stored"] = [
            BloodPressureMeasurement(Decimal(118 + i), Decimal(78), Decimal(91), False,
                                     DateTime.from_datetime(base + timedelta(hours=i)), Decimal(70), 1, 0)
            for i in range(args.stored)
        ]
    link = LocalLink()
    async with await open_transport(args.hci) as transport:
        attach_tcp_controller(link, "kiosk-side", AGENT_SIDE_ADDRESS, transport)
        sim = SIMULATORS[name](local_device(link, name, args.address), faults=faults, speed=args.speed, seed=args.seed, **extra)
        await sim.start()
        print(f"{name}: {args.address} advertising; kiosk attaches with {args.hci.replace('tcp-server', 'tcp-client')}", flush=True)
        if ready is not None:
            ready()
        try:
            if args.duration:
                await asyncio.sleep(args.duration)
            else:
                await asyncio.Event().wait()
        finally:
            await sim.stop()


async def attach_adapter(spec: str, name: str = "hci0", address: str = "F2:F2:F2:F2:F2:F2"):
    """Kiosk side of layout A: open ``tcp-client:HOST:PORT``, power a bumble host, register it
    as bleak adapter ``name`` for the bumble backend. Returns the transport (close it when done)."""
    from bumble.transport import open_transport

    from simulators.ble.bleak_bumble import use_adapter
    from simulators.ble.controller import tcp_host_device

    transport = await open_transport(spec)
    device = tcp_host_device("kiosk", address, transport)
    await device.power_on()
    use_adapter(device, name)
    return transport


DEVICES: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], Awaitable[None]]]] = {
    n: (_DESCRIPTIONS[n], _adder(n), _runner(n)) for n in _DESCRIPTIONS
}

__all__ = ["DEVICES", "serve", "attach_adapter"]
