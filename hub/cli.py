"""``ohs-hub``: run the hub, run the one-machine demo, export the wire-contract schemas, migrate the database."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from firmware_bridges.configfile import ConfigError
from firmware_bridges.logsetup import configure_logging


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    """``ohs-hub run``: the hub. With ``--workers N`` (N > 1, PostgreSQL only) this process is worker 0
    (ingest, API, analytics, retention) and starts N-1 ingest-only workers (``--ingest-only --worker K``),
    restarting any that dies; all share the records through an MQTT v5 shared subscription."""
    from hub.config import load_hub_config
    from hub.service import HubService

    config = load_hub_config(args.config)
    if args.workers > 1 or args.worker is not None:
        if config.storage.url is None:
            raise ConfigError(f"{args.config}: several hub workers need one shared database: set [storage] url = "
                              "\"postgresql://…\" (SQLite has one writer)")
        config.ingest.shared_group = config.ingest.shared_group or "ohs-hub"
    worker = args.worker if args.worker is not None else (0 if config.ingest.shared_group else None)
    service = HubService(config, worker=worker, ingest_only=args.ingest_only).start()
    if args.ingest_only:
        print(f"OHS hub ingest worker {worker} ({service.ingest.client_id})", flush=True)
    else:
        print(f"OHS hub: dashboard and API at {service.url}/  (OpenAPI: {service.url}/docs)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    extra = _Workers(args.config, args.workers - 1) if args.workers > 1 else None
    try:
        while True:
            time.sleep(1.0)
            if extra is not None:
                extra.keep_running()
    except KeyboardInterrupt:
        pass
    finally:
        if extra is not None:
            extra.stop()
        service.stop()
        counters = service.ingest.counters
        print(f"ingest stopped: stored {counters['stored']}, duplicates {counters['duplicates']}, "
              f"acks sent {counters['acks_sent']}", flush=True)
    return 0


class _Workers:
    """The extra ingest workers of ``ohs-hub run --workers N``: numbered 1…N-1 (each keeps its MQTT session
    under its own client id, so a restarted worker gets the records the broker held for it)."""

    def __init__(self, config_path: str, count: int):
        self.config_path = config_path
        self.processes = {index: self._spawn(index) for index in range(1, count + 1)}

    def _spawn(self, index: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(self.config_path),
                                 "--ingest-only", "--worker", str(index)])

    def keep_running(self) -> None:
        for index, process in list(self.processes.items()):
            if process.poll() is not None:
                logging.getLogger("hub").warning("ingest worker %d ended (exit %s); starting it again", index,
                                                 process.returncode)
                self.processes[index] = self._spawn(index)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _demo(argv: list[str]) -> int:
    """``ohs-hub demo …`` runs ``python -m ohs_demo …`` in this process (exec): the demo package starts
    kiosks and simulators, which the hub never imports."""
    import importlib.util

    if importlib.util.find_spec("ohs_demo") is None:
        print("ohs-hub demo: the demo is not installed; install it with: pip install 'ohs-gate[demo]'",
              file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "ohs_demo", *argv])


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
    store = Store(config.storage.target, synchronous=config.storage.synchronous)
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


def _db(args: argparse.Namespace) -> int:
    """``ohs-hub db upgrade|current``: the schema revision of the configured database (hub.db.migrate)."""
    from sqlalchemy.exc import SQLAlchemyError

    from hub.config import load_hub_config
    from hub.db import migrate

    config = load_hub_config(args.config)
    target = config.storage.target
    try:
        if args.action == "upgrade":
            revision = migrate.upgrade(target, synchronous=config.storage.synchronous)
        else:
            revision = migrate.current(target)
    except (SQLAlchemyError, OSError) as error:
        print(f"ohs-hub db {args.action}: cannot use the database of {args.config}: {getattr(error, 'orig', None) or error}",
              file=sys.stderr)
        return 2
    head = migrate.head()
    state = "up to date" if revision == head else f"behind {head}: run `ohs-hub db upgrade` (the hub does at start)"
    print(f"{revision or '(none)'} ({state})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ohs-hub", description="OHS hub: ingest, storage, API, models")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the hub with a config file")
    run.add_argument("--config", required=True, help="hub TOML (see configs/hub.example.toml)")
    run.add_argument("--workers", type=int, default=1, choices=range(1, 65), metavar="N",
                     help="N ingest workers on one PostgreSQL (storage.url), sharing the records through MQTT v5 "
                          "shared subscriptions; this process is worker 0 (default 1)")
    run.add_argument("--worker", type=int, default=None, choices=range(0, 1024), metavar="K",
                     help="this process's worker number, when workers run as separate services")
    run.add_argument("--ingest-only", action="store_true",
                     help="store and acknowledge only (no API, analytics or retention): an extra worker")
    run.set_defaults(func=_run)
    sub.add_parser("demo", add_help=False,
                   help="broker + hub + simulated kiosk(s) on this machine (alias of ohs-demo; see ohs-demo --help)")
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
    db = sub.add_parser("db", help="the hub database's schema: upgrade to the newest revision, or show the current")
    db.add_argument("action", choices=("upgrade", "current"))
    db.add_argument("--config", default=os.environ.get("OHS_HUB_CONFIG", "hub.toml"),
                    help="hub TOML; its [storage] url or path (default: $OHS_HUB_CONFIG, else ./hub.toml)")
    db.set_defaults(func=_db)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:
        return _demo(argv[1:])
    args = parser.parse_args(argv)
    configure_logging(logging.INFO)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
