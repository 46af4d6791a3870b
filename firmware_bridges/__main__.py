"""``python -m firmware_bridges decode <profile> <hex>`` — decode one captured frame.

Prints the Reading as JSON (unset/None fields left out, ``invalid`` reasons kept).
Exit codes: 0 decoded; 2 bad frame (checksum, truncated, no sync, wrong length), bad hex
or unknown profile — with a message on stderr saying what is wrong.
``python -m firmware_bridges decode --list`` lists the profiles.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from firmware_bridges import profiles
from firmware_bridges.readings import DecodeError, Reading


def reading_json(r: Reading) -> dict:
    """Reading → JSON-able dict: explicitly-set fields only; a field measured as None is
    kept (as null) when ``invalid`` explains it; empty dicts are dropped."""
    d = r.model_dump(mode="json", exclude_unset=True)
    out = {}
    for k, v in d.items():
        if v is None and k not in r.invalid:
            continue
        if v in ({}, []):
            continue
        out[k] = v
    return out


def parse_hex(text: str) -> bytes:
    """Accepts ``0a1b``, ``0A 1B``, ``0x0a,0x1b``, ``0a:1b``."""
    t = re.sub(r"0[xX]", "", text.strip())
    t = re.sub(r"[\s:,\-]", "", t)
    if not t:
        raise ValueError("no hex digits given")
    if len(t) % 2:
        raise ValueError(f"odd number of hex digits ({len(t)}): a byte is missing a digit")
    try:
        return bytes.fromhex(t)
    except ValueError:
        bad = next((c for c in t if c not in "0123456789abcdefABCDEF"), "?")
        raise ValueError(f"not hex: character {bad!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware_bridges", description="Device protocol tools.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    dp = sub.add_parser("decode", help="decode one captured frame (hex) and print the reading as JSON")
    dp.add_argument("profile", nargs="?", help="decode profile (see --list)")
    dp.add_argument("hex", nargs="*", help="frame bytes in hex; spaces, ':' or 0x prefixes allowed; '-' reads stdin")
    dp.add_argument("--list", action="store_true", help="list the profiles and exit")
    a = ap.parse_args(argv)

    if a.list:
        for name, desc in profiles.descriptions().items():
            print(f"{name:22s} {desc}")
        return 0
    if not a.profile:
        print("error: give a profile and a hex frame, or --list", file=sys.stderr)
        return 2
    try:
        decoder = profiles.get(a.profile)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    text = " ".join(a.hex)
    if text.strip() == "-":
        text = sys.stdin.read()
    try:
        data = parse_hex(text)
    except ValueError as e:
        print(f"error: bad hex: {e}", file=sys.stderr)
        return 2
    try:
        reading = decoder(data)
    except DecodeError as e:
        print(f"error: bad {a.profile} frame: {e}", file=sys.stderr)
        return 2
    try:
        print(json.dumps(reading_json(reading), ensure_ascii=False, indent=2))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
