"""``ohs-hub``: run the hub, run the one-machine demo, export the wire-contract schemas."""

from __future__ import annotations

import argparse
import json
import logging
import os
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


def _kiosk(args: argparse.Namespace) -> int:
    """``ohs-hub kiosk add|revoke|list``: kiosk MQTT credentials (hub.fleet, docs/fleet.md).

    Exit codes: 0 done; 1 done but the configured broker reload failed (reload by hand); 2 refused."""
    import getpass

    from hub.config import load_hub_config
    from hub.fleet import FleetError, add_kiosk, kiosk_username, list_kiosks, revoke_kiosk
    from hub.store import Store

    try:
        if args.action != "list":
            kiosk_username(args.site, args.kiosk)
    except FleetError as error:
        print(f"ohs-hub kiosk {args.action}: {error}", file=sys.stderr)
        return 2
    config = load_hub_config(args.config)
    try:
        who = getattr(args, "who", None) or os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        who = f"uid {os.getuid()}"
    store = Store(config.storage.path, synchronous=config.storage.synchronous)
    try:
        if args.action == "list":
            listing = list_kiosks(config, store)
            if args.json:
                print(json.dumps(listing, ensure_ascii=False, indent=2))
                return 0
            print(f"{'kiosk (MQTT user)':<40} {'registry':<9} {'passwd':<7} {'added (UTC)':<20} {'by':<16} "
                  f"{'revoked (UTC)':<20} last status")
            for row in listing["items"]:
                passwd = {True: "yes", False: "MISSING" if row["active"] else "no", None: "?"}[row["in_password_file"]]
                print(f"{row['username']:<40} {'active' if row['active'] else 'revoked':<9} {passwd:<7} "
                      f"{row['added_at'][:19]:<20} {row['who'][:16]:<16} {(row['revoked_at'] or '')[:19]:<20} "
                      f"{row['state'] or '-'} {row['last_seen'] or ''}")
            for user in listing["unregistered_users"]:
                print(f"{user:<40} {'NONE':<9} {'yes':<7} (in the password file, not in the registry: no ACL rights)")
            return 0
        if args.action == "add":
            outcome = add_kiosk(config, store, args.site, args.kiosk, who)
            print(f"# MQTT credentials of kiosk {outcome.username}, for its kiosk TOML. The password is shown "
                  "ONCE:\n# the hub keeps only the broker's hash. Lost? revoke the kiosk and add it again.")
            print(f'[mqtt]\nusername = "{outcome.username}"\npassword = "{outcome.password}"', flush=True)
        else:
            outcome = revoke_kiosk(config, store, args.site, args.kiosk, who)
            print(f"kiosk {outcome.username}: " + (outcome.note or "revoked (removed from the password file and "
                                                                    "the ACL)"))
    except FleetError as error:
        print(f"ohs-hub kiosk {args.action}: {error}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if outcome.reload is None:
        return 0
    print(("broker reloaded: " if outcome.reload.done else "WARNING: broker NOT reloaded: ") + outcome.reload.message,
          file=sys.stderr)
    if outcome.reload.done:
        return 0
    return 1 if (config.fleet.reload_command or config.fleet.reload_pid_file) else 0


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
    kiosk = sub.add_parser("kiosk", help="kiosk MQTT credentials: add, revoke, list (docs/fleet.md)")
    kiosk_sub = kiosk.add_subparsers(dest="action", required=True)
    for action, text in (("add", "issue a kiosk's broker credentials (password shown once)"),
                         ("revoke", "remove a kiosk's credentials and rights, reload the broker"),
                         ("list", "kiosks in the fleet registry and the password file")):
        one = kiosk_sub.add_parser(action, help=text)
        if action != "list":
            one.add_argument("site", help="site id ([a-z0-9-]+)")
            one.add_argument("kiosk", help="kiosk id ([a-z0-9-]+)")
            one.add_argument("--who", help="who does this, for the registry and the audit log "
                                           "(default: $SUDO_USER or the login name)")
        else:
            one.add_argument("--json", action="store_true", help="print JSON")
        one.add_argument("--config", default=os.environ.get("OHS_HUB_CONFIG", "hub.toml"),
                         help="hub TOML with a [fleet] section (default: $OHS_HUB_CONFIG, else ./hub.toml)")
        one.set_defaults(func=_kiosk)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
