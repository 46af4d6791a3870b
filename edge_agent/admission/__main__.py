"""``python -m edge_agent.admission [--rules FILE] [--compact] < exam.json``

Reads one exam (JSON) on stdin, writes the pre-decision (JSON, UTF-8) on stdout.
Exit codes: 0 decided; 2 invalid input (stderr names the field); 3 invalid rule set
(stderr names the file and the key).
"""

from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

from .decide import decide
from .models import ExamInput
from .rules import DEFAULT_RULES_PATH, RuleSetError, format_validation_error, load_rule_set

EXIT_INPUT = 2
EXIT_RULES = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge_agent.admission",
        description="Admission pre-decision for one exam: JSON on stdin, JSON on stdout.",
    )
    parser.add_argument("--rules", metavar="FILE", default=None,
                        help=f"rule set TOML (default: {DEFAULT_RULES_PATH})")
    parser.add_argument("--compact", action="store_true", help="one-line JSON output")
    args = parser.parse_args(argv)

    try:
        rules = load_rule_set(args.rules)
    except RuleSetError as err:
        print(f"invalid rule set: {err}", file=sys.stderr)
        return EXIT_RULES

    raw = sys.stdin.buffer.read()
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text)
    except UnicodeDecodeError as err:
        print(f"invalid input: stdin is not UTF-8: {err}", file=sys.stderr)
        return EXIT_INPUT
    except json.JSONDecodeError as err:
        print(f"invalid input: not valid JSON: {err}", file=sys.stderr)
        return EXIT_INPUT
    if not isinstance(data, dict):
        print("invalid input: (top level): expected a JSON object", file=sys.stderr)
        return EXIT_INPUT
    try:
        exam = ExamInput.model_validate(data)
    except ValidationError as err:
        print(format_validation_error(err, "invalid input", what="field"), file=sys.stderr)
        return EXIT_INPUT

    decision = decide(exam, rules)
    out = decision.to_json_dict()
    if args.compact:
        sys.stdout.write(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
