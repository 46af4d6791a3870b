"""``ohs-hub``: run the hub, run the one-machine demo, export the wire-contract schemas."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from firmware_bridges.configfile import ConfigError


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    from hub.config import load_hub_config
    from hub.service import HubService

    config = load_hub_config(args.config)
    service = HubService(config).start()
    print(f"OHS hub: dashboard and API at {service.url}/  (OpenAPI: {service.url}/docs)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        service.serve_forever()
    finally:
        service.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(workdir=Path(args.workdir), api_port=args.port, kiosks=args.kiosks,
                    exams_per_minute=args.exams_per_minute, duration_s=args.duration, broker_kind=args.broker,
                    kiosk_mode=args.kiosk_mode, speed=args.speed)


def _check(args: argparse.Namespace) -> int:
    from hub.config import load_hub_config

    load_hub_config(args.config)
    print(f"{args.config}: OK")
    return 0


def _export_schemas(args: argparse.Namespace) -> int:
    from firmware_bridges.contract import json_schemas

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (out / f"{name}.schema.json").write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(json_schemas())} schemas to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ohs-hub", description="OHS hub: ingest, storage, API, models")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hub with a config file")
    run.add_argument("--config", required=True, help="hub TOML (see configs/hub.example.toml)")
    run.set_defaults(func=_run)
    demo = sub.add_parser("demo", help="broker + hub + simulated kiosk(s) on this machine")
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
    demo.set_defaults(func=_demo)
    check = sub.add_parser("check-config", help="validate a hub TOML file")
    check.add_argument("config")
    check.set_defaults(func=_check)
    schemas = sub.add_parser("export-schemas", help="write the wire contract as JSON Schema files")
    schemas.add_argument("--out", default="docs/schemas")
    schemas.set_defaults(func=_export_schemas)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
