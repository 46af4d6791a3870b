"""Admission rules and the pure pre-decision of the kiosk (issue 5).

Python API used by the exam workflow::

    from edge_agent.admission import load_rule_set, decide, ExamInput
    rules = load_rule_set()                   # DEFAULT_RULES_PATH, validated (pydantic)
    decision = decide(ExamInput(...), rules)  # pure: no I/O, no clock
    decision.outcome, decision.fired, decision.retest_not_before_minute, decision.rule_set_version

CLI: ``python -m edge_agent.admission [--rules FILE] < exam.json`` (JSON in, JSON out).
The rules, their sources and the re-test timing are documented in ``docs/admission-rules.md``.
"""

from .decide import decide
from .models import Attempt, Decision, ExamInput, Fired, IndividualNorm, Pending, Reason
from .rules import (
    DEFAULT_RULES_PATH,
    EXAM_TYPES,
    RuleSet,
    RuleSetError,
    load_rule_set,
    parse_rule_set,
    parse_rule_set_toml,
)

__all__ = [
    "DEFAULT_RULES_PATH",
    "EXAM_TYPES",
    "Attempt",
    "Decision",
    "ExamInput",
    "Fired",
    "IndividualNorm",
    "Pending",
    "Reason",
    "RuleSet",
    "RuleSetError",
    "decide",
    "load_rule_set",
    "parse_rule_set",
    "parse_rule_set_toml",
]
