"""(f) A network partition between the kiosk and the broker: cut, then random packet loss.

The kiosk process runs in a network namespace of its own (``ip netns exec``), linked to the root
namespace by a veth pair with loopback-range addresses we create (127.77.N.1 / 127.77.N.2; no
traffic can leave the machine). mosquitto gets a second listener on the root side of the veth;
the hub stays on 127.0.0.1. nftables rules inside the kiosk's namespace make the faults: first
a full cut (every packet to and from the broker dropped), then 25 % random loss in each direction
(``numgen random mod 100 < 25 drop``; ``tc netem`` is not available in this kernel). Root, ``ip``
and ``nft`` are needed; the test is skipped otherwise. The namespace and veth are removed at the end.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import (
    FaultWindow,
    Partition,
    assert_admissions_went_on,
    assert_exactly_once,
    free_port,
    hub_config,
    hub_exam_count,
    journal_outbox,
    journal_rows,
    kiosk_config,
    say,
    skip_unavailable,
    tally,
    utc_now,
    wait_until,
    write_artifact,
)

KIOSK = "kiosk-f1"
CUT_S = 8.0
LOSS_S = 10.0
LOSS_PERCENT = 25


@pytest.mark.slow  # a soak (~30 s): a cut and minutes of random loss; run with -m slow
def test_partition_cut_then_random_loss_loses_and_doubles_nothing(parts, tmp_path, artifacts_dir):
    partition = skip_unavailable(lambda: Partition().setup())
    parts.on_close(partition.teardown)
    kiosk_port = free_port()
    broker = parts.broker(extra_conf=f"listener {kiosk_port} {partition.host_addr}\n")
    hub = parts.hub(hub_config(tmp_path, broker.host, broker.port))
    kconf = kiosk_config(tmp_path, KIOSK, partition.host_addr, kiosk_port, keepalive_s=3,
                         outbox={"resend_after_s": 3})
    kiosk = parts.kiosk_process(kconf, interval=0.04, telemetry_every=0.4, prefix=partition.prefix)
    wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) >= 20, timeout=30,
               message="exams from the kiosk in its namespace")

    cut = FaultWindow("network cut", utc_now())
    partition.cut()
    time.sleep(1.5)  # what was in flight lands; from here nothing may pass
    stored_early_in_cut = hub_exam_count(hub.db_path, KIOSK)
    time.sleep(CUT_S - 1.5)
    stored_late_in_cut = hub_exam_count(hub.db_path, KIOSK)
    partition.heal()
    cut.end = utc_now()
    wait_until(lambda: hub_exam_count(hub.db_path, KIOSK) > stored_late_in_cut, timeout=30,
               message="delivery to resume after the cut")
    time.sleep(2.0)

    lossy = FaultWindow(f"{LOSS_PERCENT} % packet loss", utc_now())
    partition.loss(LOSS_PERCENT)
    ruleset = partition.ruleset()
    stored_before_loss = hub_exam_count(hub.db_path, KIOSK)
    time.sleep(LOSS_S)
    stored_during_loss = hub_exam_count(hub.db_path, KIOSK) - stored_before_loss
    partition.heal()
    lossy.end = utc_now()
    time.sleep(2.0)

    summary = kiosk.finish(timeout=90)
    exams = journal_rows(kconf.journal.path, "exam")
    telemetry = journal_rows(kconf.journal.path, "telemetry")
    result = tally(hub.db_path, KIOSK, exams, sent_telemetry=telemetry, outbox_depth=journal_outbox(kconf.journal.path))
    write_artifact(artifacts_dir, "f_partition", {
        **result.as_dict(), "cut_s": round(cut.seconds, 1), "loss_s": round(lossy.seconds, 1),
        "loss_percent": LOSS_PERCENT, "stored_during_cut": stored_late_in_cut - stored_early_in_cut,
        "stored_during_loss": stored_during_loss, "addresses": [partition.host_addr, partition.kiosk_addr],
        "kiosk_summary": summary, "nft_rules_during_loss": ruleset,
    })
    say(f"partition: {result.as_dict()}")

    assert stored_late_in_cut == stored_early_in_cut, "records crossed a cut link: the partition did not hold"
    assert_exactly_once(result)
    assert result.outbox_depth == 0, f"{result.outbox_depth} records still in the kiosk outbox"
    assert_admissions_went_on(exams, [cut, lossy])
