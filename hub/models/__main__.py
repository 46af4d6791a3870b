"""``python -m hub.models <name>``: JSON on stdin, the model's JSON result on stdout.

Exit codes: 0 success, 2 invalid input or unknown model (message on stderr naming the field).
"""

from __future__ import annotations

import argparse
import json
import sys

from hub.models.registry import ModelInputError, load_all, run_model


def main(argv: list[str] | None = None) -> int:
    specs = load_all()
    parser = argparse.ArgumentParser(
        prog="python -m hub.models",
        description="Run one hub model: JSON input on stdin, JSON result on stdout.",
        epilog="models: " + ", ".join(f"{name} ({spec.summary})" for name, spec in sorted(specs.items())),
    )
    parser.add_argument("name", help="model name: " + ", ".join(sorted(specs)))
    parser.add_argument("--input", "-i", help="read the JSON input from this file instead of stdin")
    args = parser.parse_args(argv)
    try:
        text = open(args.input, encoding="utf-8").read() if args.input else sys.stdin.read()
    except OSError as error:
        print(f"error: cannot read input: {error}", file=sys.stderr)
        return 2
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        print(f"error: input is not valid JSON: {error}", file=sys.stderr)
        return 2
    try:
        result = run_model(args.name, payload)
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    except ModelInputError as error:
        print(f"error: invalid input: {error}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
