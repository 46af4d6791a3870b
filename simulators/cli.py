"""``ohs-sim`` — run one simulated device next to real ones.

    ohs-sim --help                                  devices and faults
    ohs-sim alcotester --link /tmp/ttyALC --fault garbage,bad-checksum --intoxicated-share 0.05
    ohs-sim pms5003 --link /tmp/ttyPMS
    ohs-sim noise --tcp 127.0.0.1:5020              (RTU over TCP; or --link /tmp/ttyNOISE via socat)

The simulator prints one line ``READY <device> <path-or-host:port>`` on stdout (the thing
the bridge opens), then runs until Ctrl-C / SIGTERM or ``--duration`` seconds.

Registration contract (how other simulators plug in)
----------------------------------------------------
A provider module exposes ``DEVICES: dict[str, tuple[str, Configure, Runner]]``:

- key: the subcommand name (``"thermometer"``, ``"kiosk"`` …), unique across providers;
- ``description``: one line for ``ohs-sim --help``;
- ``configure(parser: argparse.ArgumentParser) -> None``: adds the subcommand's options;
- ``runner(args: argparse.Namespace) -> Awaitable[None]``: an ``async def`` that starts
  the device, prints ``READY <name> <where>`` (flush!) and runs until cancelled or
  ``args.duration`` (if it defines that option) elapses; it must release every pty,
  socket, subprocess and task in ``finally`` (cancellation is how Ctrl-C arrives).

Providers are imported lazily; a provider that does not exist (yet) or fails to import
is skipped (its error shows in ``ohs-sim --help``). Built-in serial/Modbus devices live in
this module's ``DEVICES``; the others are listed in :data:`PROVIDERS`
(``simulators.ble`` — BLE devices; ``simulators.kiosk`` / ``simulators.fleet`` — the lead's).
Fault names shared by the serial/Modbus simulators are in
:data:`simulators.serial.faults.FAULTS`; a provider may accept other names and should
list them in its description or option help.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from firmware_bridges.logsetup import configure_logging
from simulators.serial.faults import FAULTS, FaultPlan

Configure = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace], Awaitable[None]]

PROVIDERS = ("simulators.ble", "simulators.kiosk", "simulators.fleet", "simulators.kiosk_world")

#: which faults each built-in device implements
DEVICE_FAULTS = {
    "alcotester": ["disconnect", "garbage", "bad-checksum", "device-error", "implausible", "silent", "clock-drift"],
    "badge": ["disconnect", "garbage", "bad-checksum", "silent"],
    "pms5003": ["disconnect", "garbage", "bad-checksum", "implausible", "silent", "clock-drift"],
    "noise": ["disconnect", "garbage", "bad-checksum", "device-error", "implausible", "silent"],
    "smoke": ["disconnect", "garbage", "bad-checksum", "device-error", "implausible", "silent"],
}


def _ready(name: str, where: str) -> None:
    print(f"READY {name} {where}", flush=True)


def _common(p: argparse.ArgumentParser, device: str) -> None:
    p.add_argument("--fault", default="", help=f"comma-separated faults: {', '.join(DEVICE_FAULTS[device])}")
    p.add_argument("--fault-rate", type=float, default=1.0, help="probability a fault hits a frame (default 1.0)")
    p.add_argument("--fault-after", type=int, default=2, help="frames/steps before 'disconnect' (default 2)")
    p.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def _plan(a: argparse.Namespace, device: str, **kw) -> FaultPlan:
    plan = FaultPlan.parse(a.fault, rate=a.fault_rate, after=a.fault_after, seed=a.seed, **kw)
    unsupported = sorted(set(plan.faults) - set(DEVICE_FAULTS[device]))
    if unsupported:
        raise ValueError(f"{device} does not implement fault(s) {unsupported}; it has: {', '.join(DEVICE_FAULTS[device])}")
    return plan


async def _run_for(coro: Awaitable[None], duration: float | None) -> None:
    try:
        await asyncio.wait_for(coro, duration) if duration else await coro
    except asyncio.TimeoutError:
        pass


# --------------------------------------------------------------------------- built-ins


def _cfg_alcotester(p: argparse.ArgumentParser) -> None:
    p.add_argument("--link", help="symlink to create for the pty (default: print the /dev/pts path)")
    p.add_argument("--intoxicated-share", type=float, default=0.03, help="share of intoxicated subjects (default 0.03)")
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply device timings (warm-up/blow/analysis); 0.01 for tests")
    p.add_argument("--serial", default="SN000123", help="device serial number reported in results")
    p.add_argument("--cal-due", default="2099-12-31", help="calibration due date (a past date → E06 CALIBRATION_OVERDUE)")
    p.add_argument("--error-code", default=None, help="device-error code to report (E01..E11; default random blow errors)")
    p.add_argument("--drift-s", type=float, default=120.0, help="clock-drift: seconds added per test")
    _common(p, "alcotester")


async def _run_alcotester(a: argparse.Namespace) -> None:
    from simulators.serial.alcotester import AlcotesterSim, AlcotesterSimConfig
    from simulators.serial.pty import PtyPort

    port = PtyPort(a.link)
    try:
        sim = AlcotesterSim(
            port,
            AlcotesterSimConfig(serial=a.serial, cal_due=a.cal_due, intoxicated_share=a.intoxicated_share, time_scale=a.time_scale, seed=a.seed),
            _plan(a, "alcotester", error_code=a.error_code, drift_s=a.drift_s),
        )
        _ready("alcotester", port.path)
        await _run_for(sim.run(), a.duration)
    finally:
        port.close()


def _cfg_badge(p: argparse.ArgumentParser) -> None:
    p.add_argument("--link", help="symlink to create for the pty")
    p.add_argument("--profile", choices=["rdm6300", "lines"], default="rdm6300", help="RDM6300 binary frames or CDC decimal lines")
    p.add_argument("--cards", default="", help="comma-separated card numbers (decimal); default: drawn from a population")
    p.add_argument("--gap", type=float, default=3.0, help="seconds between workers (default 3)")
    p.add_argument("--count", type=int, default=None, help="number of presentations, then stop")
    p.add_argument("--time-scale", type=float, default=1.0)
    _common(p, "badge")


async def _run_badge(a: argparse.Namespace) -> None:
    from simulators.serial.pty import PtyPort
    from simulators.serial.streams import BadgeSim, BadgeSimConfig

    port = PtyPort(a.link)
    try:
        cards = [int(c) for c in a.cards.split(",") if c.strip()]
        sim = BadgeSim(port, BadgeSimConfig(profile=a.profile, cards=cards, gap_s=a.gap, count=a.count, seed=a.seed, time_scale=a.time_scale), _plan(a, "badge"))
        _ready("badge", port.path)
        await _run_for(sim.run(), a.duration)
    finally:
        port.close()


def _cfg_pms(p: argparse.ArgumentParser) -> None:
    p.add_argument("--link", help="symlink to create for the pty")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between frames (default 1)")
    p.add_argument("--count", type=int, default=None)
    p.add_argument("--time-scale", type=float, default=1.0)
    _common(p, "pms5003")


async def _run_pms(a: argparse.Namespace) -> None:
    from simulators.serial.pty import PtyPort
    from simulators.serial.streams import PmsSim, PmsSimConfig

    port = PtyPort(a.link)
    try:
        sim = PmsSim(port, PmsSimConfig(interval_s=a.interval, count=a.count, seed=a.seed, time_scale=a.time_scale), _plan(a, "pms5003"))
        _ready("pms5003", port.path)
        await _run_for(sim.run(), a.duration)
    finally:
        port.close()


def _cfg_modbus(kind: str) -> Configure:
    def configure(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--tcp", metavar="HOST:PORT", help="serve RTU-over-TCP (default 127.0.0.1:<free port>)")
        g.add_argument("--link", help="serve RTU on a socat pty pair; the bridge opens this path")
        p.add_argument("--unit", type=int, default=1, help="Modbus unit id (default 1)")
        p.add_argument("--baud", type=int, default=9600, help="baud rate on the pty (ignored by a pty, §8.3)")
        if kind == "noise":
            p.add_argument("--register", type=lambda s: int(s, 0), default=0, help="holding register of dB×10 (SONBEST 0, GEMHO 0x0E)")
            p.add_argument("--zone", choices=["shop", "office"], default="shop")
        else:
            p.add_argument("--level", type=float, default=0.0, help="smoke obscuration %%/ft (≥ 4 sets the alarm register)")
        p.add_argument("--error-code", default=None, help="Modbus exception code for device-error (default 4)")
        _common(p, kind)

    return configure


def _runner_modbus(kind: str) -> Runner:
    async def run(a: argparse.Namespace) -> None:
        from simulators.modbus.server import ModbusDeviceSim, ModbusSimConfig

        cfg = ModbusSimConfig(kind=kind, unit_id=a.unit, seed=a.seed)
        if kind == "noise":
            cfg.level_address, cfg.zone = a.register, a.zone
        sim = ModbusDeviceSim(cfg, _plan(a, kind, error_code=a.error_code))
        if kind == "smoke":
            sim.smoke_level = a.level
        try:
            if a.link:
                where = await sim.start_serial(a.link, a.baud)
            else:
                host, port = (a.tcp.rsplit(":", 1) if a.tcp else ("127.0.0.1", "0"))
                h, p = await sim.start_tcp(host, int(port) or None)
                where = f"rtu-over-tcp {h}:{p}"
            _ready(kind, where)
            await _run_for(asyncio.Event().wait(), a.duration)
        finally:
            await sim.stop()

    return run


DEVICES: dict[str, tuple[str, Configure, Runner]] = {
    "alcotester": ("breathalyzer, line protocol §3.4, on a pty", _cfg_alcotester, _run_alcotester),
    "badge": ("RDM6300 / CDC badge reader on a pty (§6)", _cfg_badge, _run_badge),
    "pms5003": ("Plantower PMS5003 particulate sensor on a pty (§5.1)", _cfg_pms, _run_pms),
    "noise": ("Modbus RTU noise transmitter, dB×10 register (§4.1)", _cfg_modbus("noise"), _runner_modbus("noise")),
    "smoke": ("Modbus RTU optical smoke detector, default map (§5.2)", _cfg_modbus("smoke"), _runner_modbus("smoke")),
}


def all_devices() -> tuple[dict[str, tuple[str, Configure, Runner]], dict[str, str]]:
    """Built-ins plus every importable provider's DEVICES; returns (devices, skipped-reasons)."""
    devices = dict(DEVICES)
    skipped: dict[str, str] = {}
    for mod_name in PROVIDERS:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name and mod_name.startswith(e.name):
                continue  # provider not written yet: silently absent
            skipped[mod_name] = f"import failed: {e}"
            continue
        except Exception as e:  # a broken provider must not break the others
            skipped[mod_name] = f"import failed: {type(e).__name__}: {e}"
            continue
        extra = getattr(mod, "DEVICES", None)
        if not isinstance(extra, dict):
            continue
        for name, entry in extra.items():
            if name in devices:
                skipped[f"{mod_name}:{name}"] = "name already taken"
                continue
            try:
                desc, configure, runner = entry
            except (TypeError, ValueError):
                skipped[f"{mod_name}:{name}"] = "entry is not (description, configure, runner)"
                continue
            devices[name] = (desc, configure, runner)
    return devices, skipped


def build_parser() -> argparse.ArgumentParser:
    devices, skipped = all_devices()
    epilog = ["faults (per run, --fault a,b):"] + [f"  {k:14s} {v}" for k, v in FAULTS.items()]
    epilog += ["", "faults per device:"] + [f"  {k:12s} {', '.join(v)}" for k, v in DEVICE_FAULTS.items()]
    if skipped:
        epilog += ["", "skipped providers:"] + [f"  {k}: {v}" for k, v in skipped.items()]
    ap = argparse.ArgumentParser(
        prog="ohs-sim",
        description="Run one simulated device speaking the real protocol over a real transport. "
        "Prints 'READY <device> <path>' when the bridge can open it.",
        epilog="\n".join(epilog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="device", metavar="<device>", title="devices")
    for name, (desc, configure, runner) in sorted(devices.items()):
        p = sub.add_parser(name, help=desc, description=desc)
        configure(p)
        p.set_defaults(_runner=runner)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    if not getattr(a, "_runner", None):
        ap.print_help()
        return 2
    configure_logging(logging.WARNING)
    try:
        asyncio.run(_main_async(a))
    except KeyboardInterrupt:
        pass
    except ValueError as e:  # e.g. unknown fault name
        print(f"ohs-sim: error: {e}", file=sys.stderr)
        return 2
    return 0


async def _main_async(a: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await a._runner(a)
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    sys.exit(main())
