"""BLE connect benchmark: N connects to simulated devices under injected drops.

Each trial = the kiosk's real path: scanner service → ``BleDeviceDriver.connect`` (find,
connect, discover, subscribe; up to 3 attempts) → first reading → disconnect. The
simulators drop a fresh connection with probability ``--drop`` (fault ``drop_on_connect``).
Prints the share of trials connected within 3 attempts and the time to first reading.

    .venv/bin/python bench/ble_connect.py --connects 200 --drop 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bumble.link import LocalLink  # noqa: E402

from firmware_bridges.ble.config import BleDeviceConfig  # noqa: E402
from firmware_bridges.ble.driver import BleDeviceDriver, BleScannerService  # noqa: E402
from firmware_bridges.devices import DeviceError  # noqa: E402
from simulators.ble.bleak_bumble import BumbleClient, BumbleScanner, release_adapter, use_adapter  # noqa: E402
from simulators.ble.controller import local_device  # noqa: E402
from simulators.ble.devices import SIMULATORS, Faults  # noqa: E402

TARGETS = [
    ("ble-thermometer", "ble-temperature", "thermometer", "F0:00:00:00:00:01"),
    ("ble-bp-cuff", "ble-blood-pressure", "bp_cuff", "F0:00:00:00:00:02"),
    ("ble-oximeter", "ble-plx-spot", "oximeter", "F0:00:00:00:00:03"),
    ("ble-berrymed", "berrymed", "oximeter", "F0:00:00:00:00:04"),
]


async def bench(connects: int = 200, drop: float = 0.2, speed: float = 1000.0, seed: int = 1, attempts: int = 3) -> dict:
    link = LocalLink()
    sims = []
    for i, (sim_name, _p, _k, addr) in enumerate(TARGETS):
        sim = SIMULATORS[sim_name](local_device(link, sim_name, addr), faults=Faults(drop_on_connect=drop), speed=speed, seed=seed + i)
        await sim.start()
        sims.append(sim)
    agent = local_device(link, "kiosk", "F1:F1:F1:F1:F1:F1")
    use_adapter(agent)
    ok = 0
    attempts_used: list[int] = []
    first_reading: list[float] = []
    failures: list[str] = []
    try:
        async with BleScannerService(backend=BumbleScanner, watchdog_s=5.0) as scanner:
            for n in range(connects):
                sim_name, profile, kind, addr = TARGETS[n % len(TARGETS)]
                cfg = BleDeviceConfig(profile=profile, identity={"kind": kind, "model": sim_name}, address=addr,
                                      connect_attempts=attempts, retry_backoff_s=0.0)
                got: asyncio.Future = asyncio.get_running_loop().create_future()

                def on_reading(r, got=got):
                    if not got.done() and any(v is not None for v in r.values().values()):
                        got.set_result(r)

                drv = BleDeviceDriver(cfg, scanner=scanner, client_backend=BumbleClient, on_reading=on_reading,
                                      connect_timeout_s=2.0, scan_timeout_s=2.0, retry_backoff_s=0.005)
                t0 = time.perf_counter()
                try:
                    client, disconnected = await drv.connect(scanner)
                except DeviceError as exc:
                    failures.append(exc.message_en)
                    continue
                ok += 1
                attempts_used.append(drv.stats["connect_attempts"])
                try:
                    done, _ = await asyncio.wait({got, asyncio.ensure_future(disconnected.wait())}, timeout=5,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    for t in _:
                        t.cancel()
                    if got.done():
                        first_reading.append(time.perf_counter() - t0)
                finally:
                    if not got.done():
                        got.cancel()
                    await drv._safe_disconnect(client)
    finally:
        for sim in sims:
            await sim.stop()
        await agent.power_off()
        release_adapter()
    ms = sorted(x * 1000 for x in first_reading)
    return {
        "connects": connects,
        "drop_probability": drop,
        "connected_within_attempts": ok,
        "success_rate": ok / connects,
        "max_attempts": attempts,
        "retries_needed": sum(1 for a in attempts_used if a > 1),
        "first_reading_count": len(ms),
        "time_to_first_reading_ms": {
            "median": round(statistics.median(ms), 1) if ms else None,
            "p95": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
            "max": round(ms[-1], 1) if ms else None,
        },
        "simulator_speed": speed,
        "failures": failures[:5],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connects", type=int, default=200)
    ap.add_argument("--drop", type=float, default=0.2, help="probability a simulator drops a fresh connection")
    ap.add_argument("--speed", type=float, default=1000.0, help="simulator timing speed-up (1 = real device timing)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    res = asyncio.run(bench(a.connects, a.drop, a.speed, a.seed))
    res["wall_s"] = round(time.perf_counter() - t, 2)
    print(json.dumps(res, indent=2, ensure_ascii=False))
    print(f"success within {res['max_attempts']} attempts: {res['success_rate']:.1%} "
          f"({res['connected_within_attempts']}/{res['connects']}), drops injected p={res['drop_probability']}; "
          f"time to first reading median {res['time_to_first_reading_ms']['median']} ms, "
          f"p95 {res['time_to_first_reading_ms']['p95']} ms")
    return 0 if res["success_rate"] >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
