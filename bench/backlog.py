"""A kiosk that was offline for hours drains its backlog through the hub while other kiosks keep sending
live exams (issue 11): time to drain, and the live exams' ack latency meanwhile.

    python bench/backlog.py                    # 72 h offline: its exams plus 1 Hz from 10 sensors
    python bench/backlog.py --quick            # 2 h offline
    python bench/backlog.py --storage-url postgresql://user@host/db

The offline kiosk is the real kiosk runtime (``KioskAgent``): its journal is filled first (one telemetry
record per second with one reading of each sensor, an exam every ``--exam-every-s``), then it connects
and sends its backlog at ``--backlog-rate`` records/s (0 = as fast as acks allow; the kiosk's default is
50/s). Live kiosks (sealed exams, ``--live-rate`` per second each) publish throughout; each live exam's
latency is from its publish to the first ack covering it. The hub runs in its own process
(``ohs-hub run --ingest-only``) with every kiosk's signing key registered. Targets (issue 11): a 72-hour
backlog drains in < 120 s while the live ack p99 stays < 1 s. The last line is one JSON object; exit
status 1 when a target fails (on a shorter backlog the drain target is scaled by its hours).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import paho.mqtt.client as mqtt  # noqa: E402
from hub_ingest import SITE, AckWatch, Kiosk, p99, report, start_hub  # noqa: E402  (bench/hub_ingest.py)

from edge_agent.agent import KioskAgent  # noqa: E402
from edge_agent.config import KioskConfig  # noqa: E402
from firmware_bridges.evidence import load_or_create_key, public_key_of  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from ohs_demo.broker import start_mosquitto  # noqa: E402
from tests.foundation.helpers import exam_body  # noqa: E402

TARGET_DRAIN_S_PER_72H = 120.0
TARGET_LIVE_P99_S = 1.0


def fill_journal(agent: KioskAgent, hours: float, sensors: int, exam_every_s: int) -> int:
    """The offline kiosk's journal: 1 Hz from each sensor (one telemetry record per second) and exams."""
    start = datetime.now(timezone.utc) - timedelta(hours=hours)
    records = 0
    for second in range(int(hours * 3600)):
        at = (start + timedelta(seconds=second)).isoformat()
        agent.record("telemetry", {"readings": [{"sensor_id": f"s{i}", "zone": f"zone-{i % 4}", "ts": at,
                                                 "values": {"noise_dba": 70.0 + (second + i) % 13}}
                                                for i in range(sensors)]})
        records += 1
        if second % exam_every_s == 0:
            agent.record("exam", exam_body(f"B{second:07d}"))
            records += 1
    return records


def live_publisher(port: int, acks: AckWatch, kiosks: list[Kiosk], rate: float, stop: threading.Event,
                   sent: dict) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-live", clean_session=True)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    period = 1.0 / rate
    while not stop.is_set():
        tick = time.perf_counter()
        for kiosk in kiosks:
            seq, payload = kiosk.exam()
            acks.expect(kiosk.name, [seq])
            sent[(kiosk.name, seq)] = time.perf_counter()
            pub.publish(f"ohs/v1/{SITE}/{kiosk.name}/exam", payload, qos=1)
        stop.wait(max(0.0, period - (time.perf_counter() - tick)))
    pub.loop_stop()
    pub.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2-hour backlog")
    parser.add_argument("--hours", type=float, default=72.0)
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--exam-every-s", type=int, default=120)
    parser.add_argument("--backlog-rate", type=float, default=0.0, help="kiosk outbox backlog_rate_per_s (0 = no cap)")
    parser.add_argument("--live-kiosks", type=int, default=5)
    parser.add_argument("--live-rate", type=float, default=1.0, help="live exams per second per live kiosk")
    parser.add_argument("--storage-url", help="postgresql://… (default: a SQLite file in a temporary folder)")
    args = parser.parse_args()
    if args.quick:
        args.hours = 2.0
    work = Path(tempfile.mkdtemp(prefix="ohs-bench-backlog-"))
    broker = start_mosquitto(work / "broker")
    offline_key = work / "offline" / "signing-key.pem"
    offline_key.parent.mkdir(parents=True)
    live = [Kiosk(f"live-{i:02d}") for i in range(args.live_kiosks)]
    keys = [{"site": SITE, "kiosk": "offline", "public_key": public_key_of(load_or_create_key(offline_key))}]
    keys += [{"site": SITE, "kiosk": k.name, "public_key": public_key_of(k.key)} for k in live]
    storage = {"path": str(work / "hub.db"), **({"url": args.storage_url} if args.storage_url else {})}
    config = HubConfig.model_validate({"name": "bench", "mqtt": {"port": broker.port}, "storage": storage,
                                       "kiosks": keys})
    agent = KioskAgent(KioskConfig.model_validate({
        "identity": {"site": SITE, "kiosk": "offline", "signing_key": str(offline_key)},
        "mqtt": {"port": broker.port}, "journal": {"path": str(work / "offline" / "journal.db")},
        "outbox": {"backlog_rate_per_s": args.backlog_rate, "max_unacked": 2000, "batch": 1000}}))
    began = time.perf_counter()
    records = fill_journal(agent, args.hours, args.sensors, args.exam_every_s)
    print(f"offline kiosk journal: {records:,} records for {args.hours:g} h in {time.perf_counter() - began:.1f} s",
          flush=True)
    hub = start_hub(work, config)
    acks, stop, sent = None, threading.Event(), {}
    try:
        acks = AckWatch(broker.port)
        publisher = threading.Thread(target=live_publisher, args=(broker.port, acks, live, args.live_rate, stop, sent))
        publisher.start()
        time.sleep(2.0)  # live traffic first, then the kiosk comes back
        drain_start = time.perf_counter()
        agent.start()
        while agent.journal.outbox_depth() > 0:
            time.sleep(0.05)
        drain_s = time.perf_counter() - drain_start
        stop.set()
        publisher.join()
        deadline = time.monotonic() + 30
        while acks.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        agent.stop()
    finally:
        stop.set()
        if acks is not None:
            acks.stop()
        hub.terminate()
        hub.wait(30)
        broker.stop()
    during = [acks.covered[key] - t for key, t in sent.items() if key in acks.covered]
    target_drain = TARGET_DRAIN_S_PER_72H * args.hours / 72.0
    result = {"backlog_hours": args.hours, "backlog_records": records, "drain_s": round(drain_s, 1),
              "drain_records_per_s": round(records / drain_s), "live_exams": len(sent),
              "live_unacked": len(sent) - len(during), "live_ack_p99_s": round(p99(during), 3) if during else None}
    checks = {f"drain < {target_drain:.0f} s ({args.hours:g} h of backlog)": drain_s < target_drain,
              f"live ack p99 < {TARGET_LIVE_P99_S} s": bool(during) and p99(during) < TARGET_LIVE_P99_S,
              "every live exam acknowledged": len(during) == len(sent)}
    return report(checks, result)


if __name__ == "__main__":
    sys.exit(main())
