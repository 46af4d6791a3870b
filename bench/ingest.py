"""End-to-end ingest throughput: kiosk outbox -> mosquitto -> hub durable -> ack back.

Prints, for N exam records (default 20,000):
  * journal: how fast the kiosk journals records (SQLite WAL, synchronous=FULL, one commit each);
  * end-to-end: records/s from the kiosk agent starting with N records in its outbox until
    the hub's acks have emptied it (hub in its own process, durable SQLite commits);
  * raw: a bare paho QoS-1 publisher -> subscriber (separate process) on the same broker,
    same payload size, same count — the ceiling paho and the broker allow here;
  * the ratio end-to-end / raw.

Run: ``.venv/bin/python bench/ingest.py [--records 20000]``. Needs Debian's mosquitto.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
import tomli_w  # noqa: E402

from edge_agent.agent import KioskAgent  # noqa: E402
from edge_agent.config import KioskConfig  # noqa: E402
from firmware_bridges.contract import make_envelope  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from ohs_demo.broker import free_port, start_mosquitto, wait_listening  # noqa: E402
from tests.foundation.helpers import exam_body  # noqa: E402


def raw_subscriber(port: int, count: int, topic: str, ready, result) -> None:
    received = 0
    first = last = None

    def on_message(client, userdata, message):
        nonlocal received, first, last
        received += 1
        now = time.perf_counter()
        first = first or now
        last = now
        if received >= count:
            client.disconnect()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", clean_session=True)
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos=1), ready.set())
    client.connect("127.0.0.1", port)
    client.loop_forever()
    result.put((received, first, last))


def raw_rate(port: int, payload: bytes, count: int) -> float:
    """Messages/s of a bare paho QoS-1 publisher -> subscriber (other process); first publish to last receipt."""
    topic = "bench/raw"
    ctx = multiprocessing.get_context("spawn")
    ready, result = ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=raw_subscriber, args=(port, count, topic, ready, result))
    sub.start()
    ready.wait(10)
    time.sleep(0.3)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-raw-pub")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    start = time.perf_counter()
    infos = [pub.publish(topic, payload, qos=1) for _ in range(count)]
    infos[-1].wait_for_publish(60)
    received, first, last = result.get(timeout=120)
    end = time.perf_counter()
    sub.join(10)
    pub.loop_stop()
    pub.disconnect()
    assert received == count, f"raw subscriber got {received} of {count}"
    return count / (end - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--max-unacked", type=int, default=2000)
    args = parser.parse_args()
    n = args.records
    work = Path(tempfile.mkdtemp(prefix="ohs-bench-ingest-"))
    broker = start_mosquitto(work / "broker")
    hub_process = None
    try:
        hub_cfg = HubConfig.model_validate({
            "mqtt": {"port": broker.port}, "storage": {"path": str(work / "hub.db")},
            "api": {"port": free_port()}})
        (work / "hub.toml").write_bytes(tomli_w.dumps(hub_cfg.model_dump(mode="json", exclude_none=True)).encode())
        kiosk_cfg = KioskConfig.model_validate({
            "identity": {"site": "bench", "kiosk": "kiosk-01", "signing_key": str(work / "signing-key.pem")},
            "mqtt": {"port": broker.port},
            "journal": {"path": str(work / "journal.db")},
            "outbox": {"backlog_rate_per_s": 0, "max_unacked": args.max_unacked, "batch": 500},
        })
        body = exam_body()
        payload = make_envelope("bench", "kiosk-01", "exam", body, 1).to_json()

        agent = KioskAgent(kiosk_cfg)  # not started: journal only
        t0 = time.perf_counter()
        for _ in range(n):
            agent.record("exam", body)
        journal_s = time.perf_counter() - t0

        hub_process = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(work / "hub.toml")],
                                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening("127.0.0.1", hub_cfg.api.port, timeout=30, process=hub_process)

        t0 = time.perf_counter()
        agent.start()
        while agent.journal.outbox_depth() > 0:
            time.sleep(0.01)
        e2e_s = time.perf_counter() - t0
        agent.stop()

        import sqlite3

        stored = sqlite3.connect(work / "hub.db").execute("SELECT count(*), count(DISTINCT seq) FROM exams").fetchone()
        assert stored == (n, n), f"hub stored {stored}, expected {n} distinct"

        raw = raw_rate(broker.port, payload, n)
        e2e = n / e2e_s
        print(json.dumps({
            "records": n,
            "payload_bytes": len(payload),
            "journal_records_per_s": round(n / journal_s),
            "end_to_end_records_per_s": round(e2e),
            "end_to_end_seconds": round(e2e_s, 2),
            "raw_paho_qos1_msgs_per_s": round(raw),
            "ratio_end_to_end_to_raw": round(e2e / raw, 3),
        }, indent=2))
        print(f"end-to-end {e2e:,.0f} records/s vs raw paho QoS-1 {raw:,.0f} msg/s (ratio {e2e / raw:.2f}); "
              f"journaling {n / journal_s:,.0f} records/s")
    finally:
        if hub_process is not None:
            hub_process.send_signal(signal.SIGTERM)
            hub_process.wait(15)
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
