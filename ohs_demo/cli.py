"""``ohs-demo`` (also ``python -m ohs_demo``, ``ohs-hub demo``): broker + hub + simulated kiosks on this machine."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from firmware_bridges.logsetup import configure_logging
from ohs_demo.extras import missing

INSTALL_HINT = "pip install 'ohs-gate[demo]'"


def parser(prog: str = "ohs-demo") -> argparse.ArgumentParser:
    demo = argparse.ArgumentParser(prog=prog, description="MQTT broker + hub + simulated kiosk(s) on this machine")
    demo.add_argument("--workdir", default="var/demo", help="where the demo keeps its databases and configs")
    demo.add_argument("--port", type=int, default=8000, help="HTTP port of the dashboard/API (0 = any free)")
    demo.add_argument("--kiosks", type=int, default=1)
    demo.add_argument("--exams-per-minute", type=float, default=12.0)
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--broker", choices=("auto", "mosquitto", "amqtt"), default="auto",
                      help="auto: Debian's mosquitto when installed, else the embedded amqtt")
    demo.add_argument("--kiosk-mode", choices=("devices", "scripted"), default="devices",
                      help="devices: the real kiosk runtime and screen with simulated devices and workers (default); "
                           "scripted: the kiosk agent fed by a scripted workforce, no devices or screen")
    demo.add_argument("--speed", type=float, default=30.0,
                      help="devices mode: simulated devices and re-test waits run this many times faster (default 30)")
    return demo


def main(argv: list[str] | None = None, prog: str = "ohs-demo") -> int:
    args = parser(prog).parse_args(argv)
    absent = missing("demo")
    if absent:
        print(f"{prog}: the demo extra is not installed (missing: {', '.join(absent)}). Install it with:\n"
              f"  {INSTALL_HINT}", file=sys.stderr)
        return 2
    configure_logging(logging.INFO)
    from ohs_demo.demo import run_demo

    return run_demo(workdir=Path(args.workdir), api_port=args.port, kiosks=args.kiosks,
                    exams_per_minute=args.exams_per_minute, duration_s=args.duration, broker_kind=args.broker,
                    kiosk_mode=args.kiosk_mode, speed=args.speed)


if __name__ == "__main__":
    sys.exit(main())
