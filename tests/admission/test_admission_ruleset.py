"""The rule set file: loadable, validated, every rule sourced; errors name file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge_agent.admission import DEFAULT_RULES_PATH, RuleSetError, load_rule_set, parse_rule_set_toml
from edge_agent.admission.rules import EXAM_TYPES

RAW = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
TEXT = DEFAULT_RULES_PATH.read_text(encoding="utf-8")

THRESHOLD_WORDS = ("_at_or_above", "_below", "above", "below", "min", "max", "tolerance_percent", "at_or_above")


def test_default_path_is_in_configs():
    assert DEFAULT_RULES_PATH.parts[-3:] == ("configs", "admission", "rules-default.toml")
    rs = load_rule_set()
    assert rs.version == RAW["rule_set"]["version"]
    assert len(rs.fingerprint()) == 64


@pytest.mark.parametrize("key", sorted(RAW["rules"]))
def test_every_rule_has_id_source_and_units(key):
    rule = RAW["rules"][key]
    assert rule["id"] and isinstance(rule["id"], str)
    assert len(rule["source"]) > 10
    assert isinstance(rule["design_default"], bool)
    if any(k.endswith(THRESHOLD_WORDS) or k in THRESHOLD_WORDS for k in rule):
        assert rule.get("unit"), f"{key} has thresholds but no unit"
    if rule["design_default"]:
        assert "design default" in rule["source"].lower(), key


def test_design_defaults_are_marked_for_approval():
    assert "for the plant's medical service to approve" in TEXT.lower() or "FOR THE PLANT'S MEDICAL SERVICE TO APPROVE" in TEXT
    assert RAW["rule_set"]["status"] == "design_default"
    assert "medical service to approve" in RAW["rule_set"]["approval_note"]
    for key in ("bp_high", "bp_low", "bp_severe", "pulse", "temp", "bp_individual"):
        assert "for the plant's medical service to approve" in RAW["rules"][key]["note"]


def test_regulatory_numbers_cite_regulations():
    r = RAW["rules"]
    assert r["alcohol"]["at_or_above"] == 0.16 and "12.8" in r["alcohol"]["source"]
    assert "933н" in r["alcohol"]["source"] and "262н" in r["alcohol"]["source"]
    assert r["retest_interval"]["min_minutes"] == 20 and "835н" in r["retest_interval"]["source"]
    assert r["retest_count"]["max_retests"] == 2 and "835н" in r["retest_count"]["source"]
    assert r["alcohol"]["design_default"] is False


def test_all_exam_types_present():
    assert set(RAW["exam_types"]) == set(EXAM_TYPES)


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in TEXT
    p = tmp_path / "broken.toml"
    p.write_text(TEXT.replace(old, new, 1), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("systolic_at_or_above = 140", 'systolic_at_or_above = "high"', "rules.bp_high.systolic_at_or_above"),
        ("systolic_at_or_above = 140\n", "", "rules.bp_high.systolic_at_or_above"),
        ('unit = "mmHg"\nsystolic_at_or_above = 140', 'unit = "kPa"\nsystolic_at_or_above = 140', "rules.bp_high.unit"),
        ("require_approval = true\nmode = \"replace\"\nceiling", "require_approval = true\nmode = \"sometimes\"\nceiling",
         "rules.bp_individual.mode"),
        ("max_retests = 2", "max_retests = 2\nmax_retets = 3", "rules.retest_count.max_retets"),
        ('id = "bp.high"', 'id = "bp.hi"', "rules.bp_high.id"),
        ("confirm_within_minutes = 20", "confirm_within_minutes = 10", "rules.alcohol"),
        ('status = "design_default"', 'status = "approved"', "rule_set"),
        ("at_or_above = 0.001", "at_or_above = 0.2", "rules"),
        ('[exam_types.in_shift]\nrequired = ["bp", "pulse", "temperature", "alcohol"]',
         '[exam_types.in_shift]\nrequired = ["bp", "ecg"]', "exam_types.in_shift.required[1]"),
    ],
)
def test_broken_file_names_file_and_key(tmp_path, old, new, key):
    p = _broken(tmp_path, old, new)
    with pytest.raises(RuleSetError) as exc:
        load_rule_set(p)
    msg = str(exc.value)
    assert str(p) in msg
    assert key in msg


def test_toml_syntax_error_names_file(tmp_path):
    p = tmp_path / "syntax.toml"
    p.write_text("[rule_set\nid = 1\n", encoding="utf-8")
    with pytest.raises(RuleSetError, match="syntax.toml: not valid TOML"):
        load_rule_set(p)


def test_missing_file(tmp_path):
    with pytest.raises(RuleSetError, match="nope.toml"):
        load_rule_set(tmp_path / "nope.toml")


def test_parse_from_text_with_origin():
    rs = parse_rule_set_toml(TEXT, origin="hub config")
    assert rs.rules.alcohol.at_or_above == 0.16
    with pytest.raises(RuleSetError, match="hub config: key rules.temp.at_or_above"):
        parse_rule_set_toml(TEXT.replace("at_or_above = 37.1", "at_or_above = 99"), origin="hub config")


def test_fingerprint_changes_with_content():
    a = parse_rule_set_toml(TEXT)
    b = parse_rule_set_toml(TEXT.replace("at_or_above = 37.1", "at_or_above = 37.2"))
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == parse_rule_set_toml(TEXT).fingerprint()
