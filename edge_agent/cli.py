"""``ohs-kiosk``: run a kiosk, check its configuration, look at its outbox.

    ohs-kiosk run --config kiosk.toml        # prints the local screen URL, runs until SIGTERM/SIGINT
    ohs-kiosk check-config kiosk.toml        # exit 0 when usable; errors name the file and the key
    ohs-kiosk outbox --config kiosk.toml     # outbox depth and the last sequence number
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from firmware_bridges.configfile import ConfigError
from firmware_bridges.logsetup import configure_logging


def _run(args: argparse.Namespace) -> int:
    from edge_agent.runtime import KioskRuntime, load_runtime_config

    config, settings = load_runtime_config(args.config)
    configure_logging(args.log_level)

    async def main() -> None:
        runtime = KioskRuntime(config, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        url = await runtime.start()
        print(f"kiosk {config.identity.site}/{config.identity.kiosk}: screen at {url}", flush=True)
        print(f"open it full screen: chromium --kiosk {url}", flush=True)
        try:
            await stop.wait()
        finally:
            await runtime.stop()

    asyncio.run(main())
    return 0


def _check(args: argparse.Namespace) -> int:
    from edge_agent.runtime import load_runtime_config

    config, settings = load_runtime_config(args.file)
    kinds = sorted({d.kind for d in config.devices})
    print(f"{args.file}: OK — kiosk {config.identity.site}/{config.identity.kiosk}, "
          f"{len(config.devices)} device(s) ({', '.join(kinds) or 'none'}), "
          f"exam types {', '.join(settings.workflow.exam_types)}, screen {settings.screen.host}:{settings.screen.port}")
    missing = [k for k in ("bp_cuff", "thermometer", "alcotester", "badge_reader") if k not in kinds]
    if missing:
        print(f"warning: no device of kind {', '.join(missing)} is declared; exams will end at the medic", file=sys.stderr)
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from edge_agent.journal import Journal
    from edge_agent.runtime import load_runtime_config

    config, _ = load_runtime_config(args.config)
    if not config.journal.path.exists():
        print(f"{config.journal.path}: no journal yet (the kiosk has not run)", file=sys.stderr)
        return 1
    journal = Journal(config.journal.path, **config.journal.journal_options())
    try:
        info = {"journal": str(config.journal.path), "outbox_depth": journal.outbox_depth(),
                "last_seq": journal.last_seq(), "records": journal.count()}
    finally:
        journal.close()
    if args.json:
        print(json.dumps(info))
    else:
        print(f"outbox depth {info['outbox_depth']}, last seq {info['last_seq']}, "
              f"{info['records']} record(s) in {info['journal']}")
    return 0


def _public_key(args: argparse.Namespace) -> int:
    """Print the kiosk's Ed25519 public key (creating the key on first use) for the hub's [[kiosks]]."""
    from edge_agent.evidence import load_or_create_key, public_key_of
    from edge_agent.runtime import load_runtime_config

    config, _ = load_runtime_config(args.config)
    public = public_key_of(load_or_create_key(config.signing_key_path))
    print(f'[[kiosks]]\nsite = "{config.identity.site}"\nkiosk = "{config.identity.kiosk}"\npublic_key = "{public}"')
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ohs-kiosk", description="Kiosk agent of the occupational-health gate.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the kiosk (devices, exam workflow, screen, uplink)")
    run.add_argument("--config", required=True, help="kiosk TOML (see configs/kiosk.example.toml)")
    run.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    run.set_defaults(func=_run)
    check = sub.add_parser("check-config", help="validate a kiosk TOML file")
    check.add_argument("file")
    check.set_defaults(func=_check)
    outbox = sub.add_parser("outbox", help="outbox depth and last sequence number")
    outbox.add_argument("--config", required=True)
    outbox.add_argument("--json", action="store_true")
    outbox.set_defaults(func=_outbox)
    key = sub.add_parser("public-key", help="print the kiosk's signing key as a [[kiosks]] entry for the hub config")
    key.add_argument("--config", required=True)
    key.set_defaults(func=_public_key)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
