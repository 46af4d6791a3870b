"""The kiosk's journal and configuration, without a broker."""

from __future__ import annotations

import pytest

from edge_agent.agent import KioskAgent, RecordRejected
from edge_agent.config import ConfigError, load_kiosk_config
from edge_agent.journal import Journal
from firmware_bridges.contract import Ack
from tests.foundation.helpers import exam_body


def test_sequence_survives_reopen_and_never_repeats(tmp_path):
    journal = Journal(tmp_path / "j.db")
    records = [journal.append("exam", {"n": i}) for i in range(3)]
    assert [r.seq for r in records] == [1, 2, 3]
    journal.apply_ack(Ack(site="s", kiosk="k", through_seq=3, ts="2026-01-01T00:00:00Z"),
                      {r.seq: r.event_id for r in records})
    journal.db.execute("DELETE FROM journal")  # even after a purge of old rows
    journal.close()
    reopened = Journal(tmp_path / "j.db")
    assert reopened.append("exam", {"n": 4}).seq == 4
    assert reopened.last_seq() == 4


def test_ack_ranges_leave_the_outbox_and_backlog_marking(tmp_path):
    journal = Journal(tmp_path / "j.db")
    for i in range(10):
        journal.append("telemetry", {"n": i})
    assert journal.mark_all_pending_backlog() == 10
    journal.append("exam", {"n": 10})
    assert [r.seq for r in journal.pending(backlog=False)] == [11]
    assert len(journal.pending(backlog=True)) == 10
    published = {r.seq: r.event_id for r in journal.pending(backlog=True) + journal.pending(backlog=False)}
    removed = journal.apply_ack(Ack(site="s", kiosk="k", through_seq=3, ranges=[(6, 7), (11, 11)],
                                    ts="2026-01-01T00:00:00Z"), published)
    assert removed == 6
    assert [r.seq for r in journal.pending(backlog=True)] == [4, 5, 8, 9, 10]
    assert journal.outbox_depth() == 5


def test_agent_refuses_invalid_records_before_journaling(tmp_path):
    config = load_kiosk_config(_write(tmp_path / "k.toml", f"""
[identity]
site = "plant-1"
kiosk = "kiosk-01"
[journal]
path = "{tmp_path / 'j.db'}"
"""))
    agent = KioskAgent(config)  # not started: no broker needed to journal
    body = exam_body()
    body["outcome"] = "perhaps"
    with pytest.raises(RecordRejected, match="outcome"):
        agent.record("exam", body)
    with pytest.raises(RecordRejected, match="unknown record kind"):
        agent.record("status", {"state": "online"})
    assert agent.journal.count() == 0
    assert agent.record("exam", exam_body()).seq == 1
    agent.journal.close()


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[identity]\nsite = 'plant-1'\n", "identity.kiosk: Field required"),
        ("[identity]\nsite = 'Plant 1'\nkiosk = 'k'\n", "identity.site: String should match pattern"),
        ("[identity]\nsite = 'p'\nkiosk = 'k'\n[mqtt]\nport = 70000\n", "mqtt.port: Input should be less than or equal to 65535 (got 70000)"),
        ("[identity]\nsite = 'p'\nkiosk = 'k'\n[outbox]\nbacklog_rate = 5\n", "outbox.backlog_rate: Extra inputs are not permitted"),
        ("[identity\nsite = 'p'", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, expected):
    path = _write(tmp_path / "kiosk.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_kiosk_config(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_kiosk_config(tmp_path / "nope.toml")


def test_public_key_command_prints_a_hub_registry_entry(tmp_path):
    import subprocess
    import sys

    from edge_agent.evidence import load_or_create_key, public_key_of

    key_path = tmp_path / "key.pem"
    config = _write(tmp_path / "k.toml", f"[identity]\nsite = 'plant-1'\nkiosk = 'kiosk-07'\nsigning_key = '{key_path}'\n")
    out = subprocess.run([sys.executable, "-m", "edge_agent.cli", "public-key", "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'kiosk = "kiosk-07"' in out.stdout
    assert f'public_key = "{public_key_of(load_or_create_key(key_path))}"' in out.stdout
