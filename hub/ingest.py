"""MQTT ingest: validate, de-duplicate, store durably, then acknowledge.

One paho client on a persistent session (fixed client id, ``clean_session = False``)
subscribes to ``ohs/v1/#`` with QoS 1 and *manual* PUBACKs: a message is PUBACKed to the
broker only after the batch that holds it has been committed, so a hub killed mid-batch
gets those messages again from the broker. After the commit the hub publishes, to each
kiosk concerned, an ``ack`` listing what is stored (``hub.sequences``).

What no message can do (issue 10):

* stop the ingest — anything that does not follow the wire contract is dead-lettered with
  its reason code and counted; any other exception while handling one message dead-letters
  that message alone, and the rest of its batch is stored and acknowledged;
* be acknowledged unstored — acks name the journal *incarnation* and list contested
  sequences by event id, so a sequence held by another record never acks this one;
* make a store fault permanent — a refused commit (disk full, I/O error, locked database)
  is retried with backoff until it goes through; health says ``degraded`` with the reason,
  and reports a stall while messages wait without progress.
"""

from __future__ import annotations

import gc
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

from firmware_bridges.contract import DOWNLINK_KINDS, RECORD_KINDS, ContractError, Envelope, parse_uplink_raw, topic
from firmware_bridges.mqtt_settings import make_client
from hub.config import HubConfig
from hub.evidence import SignaturePool, Verdicts, signature_job
from hub.sequences import SequenceRanges
from hub.store import BatchResult, Store, utc_now
from hub.wire_json import load_payload

log = logging.getLogger(__name__)

#: How many contested sequences one ack lists besides those of the batch that triggered it.
ACK_CONTESTED_RECENT = 64
#: The cyclic collector's first threshold while the ingest runs (Python's default: 700); see Ingest.start.
GC_GEN0_THRESHOLD = 10_000

Key = tuple[str, str, str]  # site, kiosk, journal incarnation ('' for kiosks older than incarnations)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_at: str


@dataclass
class Parsed:
    """A message that passed the contract, with where it came from (for dead-lettering it alone)."""

    envelope: Envelope
    raw_body: dict
    item: Incoming

    @property
    def entry(self) -> tuple[Envelope, str, dict]:
        return self.envelope, self.item.received_at, self.raw_body


class StoreFault(Exception):
    """The store refused a commit for a reason outside the message (disk, I/O, lock)."""


def is_store_fault(error: BaseException) -> bool:
    """Faults of the storage, which clear by themselves (disk freed, lock released), as opposed
    to a message the code cannot store (a bug or a hostile input), which is dead-lettered."""
    if isinstance(error, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError,
                          sqlite3.DataError, psycopg.IntegrityError, psycopg.ProgrammingError, psycopg.DataError)):
        return False
    # psycopg.OperationalError: the server is down or restarting, a dropped connection, a deadlock
    # between workers (the transaction is rolled back whole and retried)
    return isinstance(error, (sqlite3.Error, psycopg.Error, OSError, MemoryError))


def shared_topics(group: str) -> list[str]:
    """What a worker subscribes to: each record kind through the group's shared subscription (one worker
    gets each message); ``status`` directly, because a shared subscription gets no retained messages
    (MQTT 5.0, 4.8.2) and a kiosk's status is retained. Every worker stores a status; the newest wins."""
    return [f"$share/{group}/ohs/v1/+/+/{kind}" for kind in RECORD_KINDS] + ["ohs/v1/+/+/status"]


def shared_session_client(settings, client_id: str):
    """A paho 2.x MQTT v5 client for a shared-subscription worker, with the broker settings
    :func:`firmware_bridges.mqtt_settings.make_client` applies to the v3.1.1 client (credentials, TLS,
    in-flight window, reconnect delays). The session is made persistent at connect (:meth:`Ingest.start`)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls_ca_file is not None:
        client.tls_set(ca_certs=str(settings.tls_ca_file),
                       certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
                       keyfile=str(settings.tls_key_file) if settings.tls_key_file else None)
    client.max_inflight_messages_set(settings.max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
    return client


class Ingest:
    """The MQTT ingest of one hub process. With ``ingest.shared_group`` set, one of several workers on
    one PostgreSQL: the records come through an MQTT v5 shared subscription (each message to one
    worker), and each ack is computed from the store, which holds what every worker stored."""

    def __init__(self, config: HubConfig, store: Store, *, worker: int | None = None):
        self.config = config
        self.store = store
        self.shared = config.ingest.shared_group is not None
        #: the MQTT client id: the hub's, plus the worker number when several run (each keeps its session)
        self.client_id = config.client_id if worker is None else f"{config.client_id}-w{worker}"
        self.queue: "queue.Queue[Incoming]" = queue.Queue()
        self.counters: Counter = Counter()
        self.dead_letter_reasons: Counter = Counter()
        self.contested: dict[Key, dict[int, set[str]]] = store.contested_sequences()
        # loaded per key on first use, less the contested sequences (a start reads none of `received`)
        self.sequences: MutableMapping[Key, SequenceRanges] = store.sequence_map(self.contested)
        self.fault: dict | None = None  # the store fault being retried, while it lasts
        self._last_progress = time.monotonic()
        self._pending_batch = 0  # messages of the batch being stored (or retried)
        self._next_gap_check = 0.0
        self._generation = 0
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.client = None
        #: optional sinks of stored telemetry (hub.timeseries); each ``offer(envelopes)`` must not block
        self.telemetry_sinks: list = []
        #: exam signatures of large batches checked in another process (started on first need)
        self.signatures = SignaturePool()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Ingest":
        # Everything loaded so far (modules, schemas, config, the store) lives as long as the process: moved
        # out of the cyclic collector's sight, so its full collections, which a burst of messages triggers
        # every few hundred records, walk only what the ingest allocates (issue 11: ~20 % of an exam's cost)
        gc.collect()
        gc.freeze()
        # ...and run less often: by default its youngest generation is collected every 700 allocations (about
        # once per dozen exams), and each collection also walks what the batch still holds (its envelopes and
        # bodies), promoting them to older generations that are walked again. An exam's objects are freed by
        # reference counting when its batch ends; the collector only finds cycles, which wait a little longer
        # now. Issue 11's measurements: ~25 µs of the ~190 µs of an exam's writer time down to ~9 µs
        if gc.get_threshold()[0] < GC_GEN0_THRESHOLD:
            gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        if self.shared:
            client = shared_session_client(self.config.mqtt, self.client_id)
        else:
            client = make_client(self.config.mqtt, self.client_id, clean_session=False)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client
        self._writer = threading.Thread(target=self._write_loop, name="hub-writer", daemon=True)
        self._writer.start()
        if self.shared:  # MQTT v5: a persistent session is clean_start=False plus an expiry interval
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.ingest.session_expiry_s
            client.connect_async(self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s,
                                 clean_start=False, properties=properties)
        else:
            client.connect_async(self.config.mqtt.host, self.config.mqtt.port,
                                 keepalive=self.config.mqtt.keepalive_s)
        client.loop_start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout=10)
        self.signatures.close()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ------------------------------------------------------------------ health

    def health(self) -> dict:
        """``ok`` or ``degraded`` with every problem that lasts right now (and since when)."""
        problems = []
        if not self.connected:
            problems.append({"code": "mqtt_disconnected", "message": "the hub is not connected to the broker; "
                             "it reconnects by itself"})
        if self.fault is not None:
            problems.append({"code": "store_fault", **self.fault})
        waiting = self.queue.qsize() + self._pending_batch
        idle_s = time.monotonic() - self._last_progress
        if waiting and idle_s > self.config.ingest.stall_after_s:
            problems.append({"code": "stalled", "message": f"{waiting} messages wait and nothing was stored for "
                             f"{idle_s:.0f} s", "waiting": waiting, "seconds_without_progress": round(idle_s, 1)})
        return {"status": "degraded" if problems else "ok", "problems": problems, "waiting": waiting}

    def _set_fault(self, error: BaseException, retries: int) -> None:
        reason = f"{type(error).__name__}: {error}"
        if self.fault is None or self.fault["message"] != reason:
            log.error("the store refused a batch (%s); retrying until it goes through", reason)
        since = self.fault["since"] if self.fault else utc_now()
        self.fault = {"message": reason, "since": since, "retries": retries}

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connection refused: %s", reason_code)
            return
        self._generation += 1  # PUBACKs owed on an older connection are void: the broker redelivers
        if self.shared:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            client.subscribe([(t, SubscribeOptions(qos=1)) for t in shared_topics(self.config.ingest.shared_group)])
        else:
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
                self._last_progress = time.monotonic()  # nothing waits: idle is not a stall
                self._maybe_flag_gaps()
                continue
            try:
                self.process(batch)
            except StoreFault:  # only when stopping mid-retry: not PUBACKed, so the broker redelivers
                return
            except Exception:  # a bug outside any one message: keep the writer alive, say so loudly
                log.exception("handling a batch of %d messages failed; they will be redelivered", len(batch))
                self.counters["batch_failures"] += 1
            self._maybe_flag_gaps()

    def _maybe_flag_gaps(self) -> None:
        now = time.monotonic()
        if now < self._next_gap_check:
            return
        self._next_gap_check = now + self.config.evidence.gap_check_every_s
        cutoff = (datetime.now(timezone.utc) - timedelta(seconds=self.config.evidence.gap_after_s)).isoformat()
        try:
            flagged = self.store.flag_chain_gaps(cutoff)
        except Exception as error:  # the store is down; the retry loop reports it, and this runs again
            log.warning("flagging chain gaps failed: %s", error)
            return
        if flagged:
            self.counters["chain_gaps_flagged"] += flagged
            log.warning("%d exams still miss their chain predecessor after %.0f s: flagged 'gap'", flagged,
                        self.config.evidence.gap_after_s)

    def process(self, batch: list[Incoming]) -> None:
        """Validate, store in one transaction (retried while the store is faulty), then PUBACK and ack."""
        self._pending_batch = len(batch)
        parsed, rejected = self._parse(batch)
        verdicts = self._check_signatures(parsed)
        result = self._store_with_retry(parsed, rejected, verdicts)
        self._pending_batch = 0
        self._last_progress = time.monotonic()
        # durable now: PUBACK the broker, then tell kiosks what is stored
        current = self._generation
        for item in batch:
            if item.qos > 0 and item.generation == current:
                self.client.ack(item.mid, item.qos)
        self._account(result, rejected)
        for key, seqs in result.touched.items():
            self.publish_ack(*key, batch_seqs=seqs, confirmed=result.confirmed.get(key, {}))

    def _parse(self, batch: list[Incoming]) -> tuple[list[Parsed], list[tuple[str, bytes, str, str]]]:
        parsed, rejected = [], []
        for item in batch:
            self.counters["received"] += 1
            try:
                if item.topic.rsplit("/", 1)[-1] in DOWNLINK_KINDS:
                    continue  # our own acks/config/cmd come back through ohs/v1/#
                envelope, raw_body = parse_uplink_raw(item.topic, item.payload, self.config.ingest.max_payload_bytes,
                                                      self.config.ingest.max_json_depth, load=load_payload)
            except ContractError as error:
                rejected.append((item.topic, item.payload, error.reason, error.code))
                continue
            except Exception as error:  # noqa: BLE001 — one message must never stop the others
                log.exception("unexpected error validating a message on %s", item.topic[:200])
                rejected.append((item.topic, item.payload, f"internal error while validating: "
                                 f"{type(error).__name__}: {str(error)[:200]}", "internal_error"))
                continue
            parsed.append(Parsed(envelope, raw_body, item))
        return parsed, rejected

    def _check_signatures(self, parsed: list[Parsed]) -> Verdicts | None:
        """Start checking the batch's exam signatures in the pool (hub.evidence.SignaturePool), in the order
        the store will need them; the store links and stores meanwhile. None for a batch of few exams."""
        exams = [p for p in parsed if p.envelope.kind == "exam"]
        if len(exams) < self.signatures.min_exams:
            return None
        try:
            keys = {(site, kiosk): key for site, kiosk, key in
                    self.store.query_rows("SELECT site, kiosk, public_key FROM kiosk_keys")}
        except Exception as error:  # noqa: BLE001 — the store decides and reports; checked inline then
            log.debug("reading kiosk keys for the signature pool failed: %s", error)
            return None
        jobs = [job for p in exams
                if (job := signature_job(keys.get((p.envelope.site, p.envelope.kiosk)), p.raw_body)) is not None]
        try:
            return self.signatures.submit(jobs)
        except Exception as error:  # noqa: BLE001 — no pool (e.g. no process can start): checked inline
            log.warning("the signature pool could not start (%s: %s); checking inline", type(error).__name__, error)
            self.signatures.close()
            return None

    def _store_with_retry(self, parsed: list[Parsed], rejected: list, verdicts: Verdicts | None = None) -> BatchResult:
        delay, retries = self.config.ingest.store_retry_initial_s, 0
        while True:
            try:
                result = self._store(parsed, rejected, verdicts)
            except StoreFault as fault:
                error = fault.__cause__ or fault
                retries += 1
                self.counters["store_failures"] += 1
                self._set_fault(error, retries)
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, self.config.ingest.store_retry_max_s)
                continue
            if self.fault is not None:
                log.warning("the store accepts commits again after %d retries (%s)", retries, self.fault["message"])
                self.fault = None
            return result

    def _store(self, parsed: list[Parsed], rejected: list, verdicts: Verdicts | None = None) -> BatchResult:
        """Commit the batch; if one message in it cannot be stored, store the others and
        dead-letter that one alone."""
        try:
            return self.store.commit_batch([p.entry for p in parsed], rejected, verdicts)
        except Exception as error:
            if is_store_fault(error):
                raise StoreFault(str(error)) from error
            log.warning("a batch of %d failed (%s: %s); storing its messages one by one", len(parsed),
                        type(error).__name__, error)
        merged = self._commit_isolated([], rejected, None)
        for one in parsed:
            result = self._commit_isolated([one.entry], [], one)
            merged.stored += result.stored
            merged.duplicates += result.duplicates
            merged.dead_lettered += result.dead_lettered
            merged.conflicts += result.conflicts
            merged.contested += result.contested
            for key, seqs in result.touched.items():
                merged.touched.setdefault(key, set()).update(seqs)
            for key, confirmed in result.confirmed.items():
                merged.confirmed.setdefault(key, {}).update(confirmed)
        return merged

    def _commit_isolated(self, entries: list, rejected: list, culprit: Parsed | None) -> BatchResult:
        try:
            return self.store.commit_batch(entries, rejected)
        except Exception as error:
            if is_store_fault(error):
                raise StoreFault(str(error)) from error
            if culprit is None:
                raise  # dead-lettering itself failed for a reason not of the store: a bug, surfaced
            reason = f"internal error while storing: {type(error).__name__}: {str(error)[:200]}"
            log.exception("could not store a message from %s; dead-lettered", culprit.item.topic[:200])
            try:
                return self.store.commit_batch([], [(culprit.item.topic, culprit.item.payload, reason,
                                                     "internal_error")])
            except Exception as again:
                if is_store_fault(again):
                    raise StoreFault(str(again)) from again
                raise

    def _account(self, result: BatchResult, rejected: list) -> None:
        for envelope in result.stored:
            key = (envelope.site, envelope.kiosk, envelope.incarnation_key)
            if not self.shared and envelope.seq not in self.contested.get(key, {}):
                self.sequences.setdefault(key, SequenceRanges()).add(envelope.seq)
            self.counters[f"stored_{envelope.kind}"] += 1
        for site, kiosk, incarnation, seq, _ in result.contested:
            if self.shared:
                continue  # acks read the contested sequences from the store
            key = (site, kiosk, incarnation)
            self.contested.setdefault(key, {})[seq] = self.store.held_event_ids(site, kiosk, incarnation, seq)
            self.sequences.setdefault(key, SequenceRanges()).discard(seq)
        self.counters["stored"] += len(result.stored)
        self.counters["duplicates"] += result.duplicates
        self.counters["dead_lettered"] += result.dead_lettered
        self.counters["conflicts"] += len(result.conflicts)
        for _, _, reason, code in rejected:
            self.dead_letter_reasons[code] += 1
            log.warning("dead-lettered (%s): %s", code, reason[:300])
        for code, reason in result.conflicts:
            self.dead_letter_reasons[code] += 1
            log.warning("conflict kept for an admin (%s): %s", code, reason)
        telemetry = [env for env in result.stored if env.kind == "telemetry"] if self.telemetry_sinks else []
        if telemetry:  # committed already: each sink copies it to its own queue, never blocking the ingest
            for sink in self.telemetry_sinks:
                try:
                    sink.offer(telemetry)
                except Exception:  # noqa: BLE001 — a faulty sink must not stop the acks
                    log.exception("a telemetry sink refused %d stored messages", len(telemetry))

    def publish_ack(self, site: str, kiosk: str, incarnation: str = "", batch_seqs: set[int] | None = None,
                    confirmed: dict[int, str] | None = None) -> None:
        key = (site, kiosk, incarnation)
        if self.shared:  # other workers store this kiosk's records too: what is stored is in the store
            contested = self.store.contested_sequences(key).get(key, {})
            ranges = SequenceRanges(self.store.sequence_ranges(*key))
            for seq in contested:
                ranges.discard(seq)
        else:
            ranges = self.sequences.get(key) or SequenceRanges()
            contested = self.contested.get(key, {})
        listed = set(sorted(contested)[-ACK_CONTESTED_RECENT:]) | (set(batch_seqs or ()) & set(contested))
        ack = ranges.ack(site, kiosk, self.config.ingest.ack_ranges_max, incarnation=incarnation,
                         contested={seq: sorted(contested[seq]) for seq in sorted(listed)},
                         confirmed=confirmed or {})
        self.client.publish(topic(site, kiosk, "ack"), ack.model_dump_json(by_alias=True), qos=1)
        self.counters["acks_sent"] += 1
