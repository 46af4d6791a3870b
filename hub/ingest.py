"""MQTT ingest: validate, de-duplicate, store durably, then acknowledge.

One paho client on a persistent session (fixed client id, ``clean_session = False``)
subscribes to ``ohs/v1/#`` with QoS 1 and *manual* PUBACKs: a message is PUBACKed to the
broker only after the batch that holds it has been committed, so a hub killed mid-batch
gets those messages again from the broker. After the commit the hub publishes, to each
kiosk concerned, an ``ack`` listing what is stored (``hub.sequences``). Anything that
does not follow the wire contract is dead-lettered with its reason and counted; nothing
a kiosk sends can stop the ingest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

from firmware_bridges.contract import ContractError, DOWNLINK_KINDS, parse_uplink_raw, topic
from firmware_bridges.mqtt_settings import make_client
from hub.config import HubConfig
from hub.sequences import SequenceRanges
from hub.store import Store, utc_now

log = logging.getLogger("hub.ingest")


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: str


def reason_category(reason: str) -> str:
    """A short counter name for a dead-letter reason."""
    for prefix, name in (
        ("oversized", "oversized"),
        ("payload is not UTF-8", "not_utf8"),
        ("payload is not JSON", "bad_json"),
        ("payload must be a JSON object", "bad_json"),
        ("unknown schema version", "unknown_version"),
        ("topic ", "bad_topic"),
        ("envelope says", "topic_mismatch"),
        ("invalid ", "invalid_fields"),
        ("sequence ", "conflict"),
        ("event id ", "conflict"),
    ):
        if reason.startswith(prefix):
            return name
    return "other"


class Ingest:
    def __init__(self, config: HubConfig, store: Store):
        self.config = config
        self.store = store
        self.queue: "queue.Queue[Incoming]" = queue.Queue()
        self.counters: Counter = Counter()
        self.dead_letter_reasons: Counter = Counter()
        self.sequences: dict[tuple[str, str], SequenceRanges] = {
            key: SequenceRanges(ranges) for key, ranges in store.stored_sequences().items()
        }
        self._generation = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.client = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Ingest":
        client = make_client(self.config.mqtt, self.config.client_id, clean_session=False)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        self._writer = threading.Thread(target=self._write_loop, name="hub-writer", daemon=True)
        self._writer.start()
        client.connect_async(self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s)
        client.loop_start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout=10)
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connection refused: %s", reason_code)
            return
        self._generation += 1  # PUBACKs owed on an older connection are void: the broker redelivers
        client.subscribe("ohs/v1/#", qos=1)
        self.counters["connects"] += 1
        self._connected.set()
        log.info("hub connected to broker (session present: %s)", flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        log.info("hub disconnected from broker: %s", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self.queue.put(
            Incoming(message.topic, bytes(message.payload), message.mid, message.qos, self._generation, utc_now())
        )

    # ------------------------------------------------------------------ writer

    def _next_batch(self) -> list[Incoming]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.config.ingest.batch_wait_ms / 1000
        while len(batch) < self.config.ingest.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                self.process(batch)
            except Exception:  # the store failed (disk?): no PUBACK, so the broker will redeliver
                log.exception("storing a batch of %d messages failed; it will be redelivered", len(batch))
                self.counters["store_failures"] += 1
                time.sleep(1.0)

    def process(self, batch: list[Incoming]) -> None:
        """Validate, store in one transaction, then PUBACK and publish acks."""
        valid, rejected = [], []
        for item in batch:
            self.counters["received"] += 1
            try:
                if item.topic.rsplit("/", 1)[-1] in DOWNLINK_KINDS:
                    continue  # our own acks/config/cmd come back through ohs/v1/#
                envelope, raw_body = parse_uplink_raw(item.topic, item.payload, self.config.ingest.max_payload_bytes)
            except ContractError as error:
                rejected.append((item.topic, item.payload, error.reason))
                continue
            valid.append((envelope, item.received_at, raw_body))
        result = self.store.commit_batch(valid, rejected)
        # durable now: PUBACK the broker, then tell kiosks what is stored
        current = self._generation
        for item in batch:
            if item.qos > 0 and item.generation == current:
                self.client.ack(item.mid, item.qos)
        for envelope in result.stored:
            self.sequences.setdefault((envelope.site, envelope.kiosk), SequenceRanges()).add(envelope.seq)
            self.counters[f"stored_{envelope.kind}"] += 1
        self.counters["stored"] += len(result.stored)
        self.counters["duplicates"] += result.duplicates
        self.counters["dead_lettered"] += result.dead_lettered
        for reason in [r for _, _, r in rejected] + result.conflicts:
            self.dead_letter_reasons[reason_category(reason)] += 1
            log.warning("dead-lettered: %s", reason)
        for site, kiosk in result.touched:
            self.publish_ack(site, kiosk)

    def publish_ack(self, site: str, kiosk: str) -> None:
        ranges = self.sequences.get((site, kiosk)) or SequenceRanges()
        ack = ranges.ack(site, kiosk, self.config.ingest.ack_ranges_max)
        self.client.publish(topic(site, kiosk, "ack"), ack.model_dump_json(by_alias=True), qos=1)
        self.counters["acks_sent"] += 1
