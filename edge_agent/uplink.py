"""The kiosk's MQTT uplink: drains the journal's outbox to the hub until the hub acks it.

Guarantees (architecture.md, "Delivery: nothing lost, nothing doubled"):

* a record is published from the journal, never from memory only, with QoS 1 on a
  persistent session (fixed client id, ``clean_session = False``);
* it leaves the outbox only when the hub's ``ack`` covers its sequence; a record the hub
  has not acked after ``resend_after_s`` is published again (the hub de-duplicates);
* live records go first; rows that were waiting when the connection came up are backlog,
  published at most ``backlog_rate_per_s`` per second with ``historical = true``;
* status is retained and also the MQTT will (``offline``), so the hub sees a dead kiosk;
* paho reconnects with exponential backoff; a watchdog restarts a connection that shows
  no traffic while records wait, and recreates a client that stays offline too long.

Who owns what (issue 10, defect 10): the **sender thread** owns the MQTT client object
(it alone creates, swaps and publishes on it), the send cursors and the live/backlog
split. paho's network thread only reports (connected, acks, commands) and the watchdog
only *requests* (a client restart, a status); the sender carries the requests out between
passes. The in-flight table (seq -> event id, last publish time) is shared under a lock,
since acks arrive on paho's thread.

An ack removes only records of its journal incarnation that were published on this
connection and whose exact (seq, event id) the ack confirms (``Ack.confirmed``, the records
of the hub batch behind it): a record is never removed because the hub holds *another*
record under its number. An ack
showing that the hub holds sequences this journal never issued means the journal was
restored from an older copy: the journal takes a new incarnation (``Journal.rotate_incarnation``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from pydantic import ValidationError

from edge_agent.config import KioskConfig
from edge_agent.journal import Journal, JournalRecord
from firmware_bridges.contract import Ack, encode_envelope, make_envelope, topic
from firmware_bridges.mqtt_settings import make_client

log = logging.getLogger(__name__)

AGENT_VERSION = "0.1.0"


class Uplink:
    """Background threads: paho's network loop, the outbox sender (owner of the client) and the watchdog."""

    def __init__(
        self,
        config: KioskConfig,
        journal: Journal,
        *,
        status_extra: Callable[[], dict] | None = None,
        on_command: Callable[[str, dict], None] | None = None,
        public_key: str | None = None,
    ):
        self.config = config
        self.journal = journal
        self.site = config.identity.site
        self.kiosk = config.identity.kiosk
        self.status_extra = status_extra or (lambda: {})
        self.on_command = on_command
        self.public_key = public_key
        self.counters = {"published": 0, "resent": 0, "acks": 0, "acked_records": 0, "bad_downlink": 0,
                         "connects": 0, "watchdog_restarts": 0, "foreign_acks": 0}
        self.clock_offset_s: float | None = None
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._synced = threading.Event()  # the hub answered this connection's status
        # (incarnation, seq) -> (monotonic time of the last publish, event id); shared with paho's thread
        self._inflight: dict[tuple[str, int], tuple[float, str]] = {}
        self._inflight_lock = threading.Lock()
        self._last_traffic = time.monotonic()
        self._offline_since = time.monotonic()
        # requests from other threads, carried out by the sender
        self._requests_lock = threading.Lock()
        self._connect_generation = 0
        self._backlog_upto = 0  # records up to this sequence were waiting when the session began
        self._restart_reason: str | None = None
        self._status_due = False
        # owned by the sender thread
        self._served_generation = 0
        self._connected_at = 0.0
        self._live_cursor = 0
        self._backlog_cursor = 0
        self._backlog_tokens = 0.0
        self._backlog_refill_at = time.monotonic()
        self._threads: list[threading.Thread] = []
        self.client = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._new_client()
        for target, name in ((self._send_loop, "outbox-sender"), (self._watchdog_loop, "uplink-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the threads; a graceful stop publishes the retained ``offline`` status first."""
        self._stop.set()
        self.notify()
        for thread in self._threads:
            thread.join(timeout=5)
        client = self.client  # the sender has stopped: the client is ours now
        if client is not None:
            if graceful and self._connected.is_set():
                info = client.publish(self._topic("status"), self._status_payload("offline"), qos=1, retain=True)
                try:
                    info.wait_for_publish(timeout=2)
                except (RuntimeError, ValueError):
                    pass
            client.disconnect()
            client.loop_stop()

    def notify(self) -> None:
        """Wake the sender (a new record was journaled, or a request is waiting)."""
        with self._wake:
            self._wake.notify_all()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def request_restart(self, reason: str) -> None:
        """Ask the sender to replace the MQTT client (any thread)."""
        with self._requests_lock:
            self._restart_reason = reason
        self.notify()

    def publish_status(self) -> None:
        """Ask the sender to publish the retained ``online`` status now (any thread)."""
        with self._requests_lock:
            self._status_due = True
        self.notify()

    # ------------------------------------------------------------------ paho plumbing

    def _topic(self, kind: str) -> str:
        return topic(self.site, self.kiosk, kind)

    def _status_payload(self, state: str) -> bytes:
        body = {
            "state": state,
            "versions": {"agent": AGENT_VERSION, "schema": "1"},
            "outbox_depth": self.journal.outbox_depth() if state == "online" else None,
            "last_seq": self.journal.last_seq(),
            "clock_offset_s": self.clock_offset_s,
            "public_key": self.public_key,
        }
        if state == "online":
            body.update(self.status_extra())
            body["journal"] = dict(self.journal.counters)
        return make_envelope(self.site, self.kiosk, "status", body, None,
                             incarnation=self.journal.incarnation).to_json()

    def _new_client(self) -> None:
        """Create (or replace) the client: only at start and on the sender thread."""
        old = self.client
        if old is not None:
            old.on_connect = old.on_disconnect = old.on_message = old.on_publish = None
            try:
                old.disconnect()
                old.loop_stop()
            except Exception:  # the old client may already be broken; it is being replaced
                log.exception("error while discarding the old MQTT client")
        self._connected.clear()
        client = make_client(self.config.mqtt, self.config.client_id, clean_session=False)
        client.will_set(self._topic("status"), self._status_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self.client = client
        client.connect_async(self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s)
        client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connection refused: %s", reason_code)
            return
        self.counters["connects"] += 1
        self._synced.clear()
        client.subscribe([(self._topic("ack"), 1), (self._topic("cmd"), 1), (self._topic("config"), 1)])
        client.publish(self._topic("status"), self._status_payload("online"), qos=1, retain=True)
        self._last_traffic = time.monotonic()
        self.request_restart_cursors()  # what waits now is backlog; what is journaled from now on is live
        self._connected.set()
        log.info("connected to %s:%s", self.config.mqtt.host, self.config.mqtt.port)
        self.notify()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._connected.is_set():
            self._offline_since = time.monotonic()
        self._connected.clear()
        log.info("MQTT disconnected: %s", reason_code)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._last_traffic = time.monotonic()

    def _on_message(self, client, userdata, message) -> None:
        self._last_traffic = time.monotonic()
        kind = message.topic.rsplit("/", 1)[-1]
        try:
            data = json.loads(message.payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            self.counters["bad_downlink"] += 1
            log.warning("ignored malformed %s message: %s", kind, str(error)[:200])
            return
        if kind == "ack":
            try:
                ack = Ack.model_validate(data)
            except ValidationError as error:
                self.counters["bad_downlink"] += 1
                log.warning("ignored invalid ack: %s", str(error)[:300])
                return
            try:
                self._apply_ack(ack)
            except Exception:  # the journal may be briefly unwritable; the next ack covers the same records
                log.exception("applying an ack failed")
        elif self.on_command is not None:
            self.on_command(kind, data)

    def _apply_ack(self, ack: Ack) -> None:
        if (ack.site, ack.kiosk) != (self.site, self.kiosk):
            self.counters["foreign_acks"] += 1
            return
        incarnation = ack.incarnation or self.journal.incarnation
        if incarnation == self.journal.incarnation and ack.highest_seq > self.journal.last_seq():
            self.journal.rotate_incarnation(
                f"the hub holds sequence {ack.highest_seq} but this journal has issued only up to "
                f"{self.journal.last_seq()}: it was restored from an older copy")
            self.request_restart_cursors()
        with self._inflight_lock:
            published = {seq: event_id for (inc, seq), (_, event_id) in self._inflight.items() if inc == incarnation}
        removed = self.journal.apply_ack(ack, published)
        self.counters["acks"] += 1
        self.counters["acked_records"] += removed
        self.clock_offset_s = round((ack.ts - datetime.now(timezone.utc)).total_seconds(), 3)
        with self._inflight_lock:
            for seq in [seq for seq, event_id in published.items() if ack.confirms(seq, event_id)]:
                self._inflight.pop((incarnation, seq), None)
        self._synced.set()
        self.notify()

    def request_restart_cursors(self) -> None:
        """Ask the sender to read the outbox from the start again (a new session, or records changed
        incarnation). Records journaled up to now become backlog; later ones stay live."""
        upto = self.journal.last_seq()
        with self._requests_lock:
            self._connect_generation += 1
            self._backlog_upto = max(self._backlog_upto, upto)
        self.notify()

    # ------------------------------------------------------------------ sender (owns the client)

    def _service_requests(self) -> None:
        """Carry out what other threads asked for; called by the sender between passes."""
        with self._requests_lock:
            restart, self._restart_reason = self._restart_reason, None
            generation = self._connect_generation
            backlog_upto = self._backlog_upto
            status_due, self._status_due = self._status_due, False
        if restart is not None:
            log.warning("restarting the MQTT connection: %s", restart)
            self.counters["watchdog_restarts"] += 1
            self._offline_since = time.monotonic()
            self._new_client()
        if generation != self._served_generation:
            self._served_generation = generation
            moved = self.journal.mark_all_pending_backlog(up_to_seq=backlog_upto)
            with self._inflight_lock:
                self._inflight.clear()
            self._live_cursor = self._backlog_cursor = 0
            self._connected_at = time.monotonic()
            log.info("outbox re-read from the start (%d records now backlog)", moved)
        if status_due and self._connected.is_set():
            self.client.publish(self._topic("status"), self._status_payload("online"), qos=1, retain=True)

    def _publish(self, record: JournalRecord, historical: bool) -> None:
        incarnation = record.incarnation or self.journal.incarnation
        payload = encode_envelope(self.site, self.kiosk, record.kind, record.seq, record.event_id,
                                  record.created_at, historical, record.body_json, incarnation)
        self.client.publish(self._topic(record.kind), payload, qos=1)
        with self._inflight_lock:
            key = (incarnation, record.seq)
            resent = key in self._inflight
            self._inflight[key] = (time.monotonic(), record.event_id)
        self.counters["resent" if resent else "published"] += 1

    def _room(self) -> int:
        with self._inflight_lock:
            return self.config.outbox.max_unacked - len(self._inflight)

    def _backlog_allowance(self) -> int:
        rate = self.config.outbox.backlog_rate_per_s
        if rate == 0:
            return self.config.outbox.batch
        now = time.monotonic()
        self._backlog_tokens = min(max(rate, 1.0), self._backlog_tokens + (now - self._backlog_refill_at) * rate)
        self._backlog_refill_at = now
        return int(self._backlog_tokens)

    def _send_once(self) -> bool:
        """One pass; returns True when it published something."""
        batch = self.config.outbox.batch
        sent = False
        room = self._room()
        if room > 0:
            live = self.journal.pending(backlog=False, after_seq=self._live_cursor, limit=min(batch, room))
            for record in live:
                self._publish(record, historical=False)
                self._live_cursor = record.seq
                sent = True
            room -= len(live)
        if room > 0 and not sent:
            allowance = min(self._backlog_allowance(), room, batch)
            if allowance > 0:
                backlog = self.journal.pending(backlog=True, after_seq=self._backlog_cursor, limit=allowance)
                for record in backlog:
                    self._publish(record, historical=True)
                    self._backlog_cursor = record.seq
                    sent = True
                self._backlog_tokens -= len(backlog)
        # resend what the hub has not acknowledged in time
        deadline = time.monotonic() - self.config.outbox.resend_after_s
        with self._inflight_lock:
            overdue = [key for key, (at, _) in self._inflight.items() if at < deadline][:batch]
        still_pending = {(r.incarnation or self.journal.incarnation, r.seq): r
                         for r in self.journal.get(seq for _, seq in overdue)}
        with self._inflight_lock:  # rows acked meanwhile are no longer in flight
            for key in set(overdue) - set(still_pending):
                self._inflight.pop(key, None)
        for key in overdue:
            record = still_pending.get(key)
            if record is not None:
                self._publish(record, historical=record.backlog)
                sent = True
        return sent

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._service_requests()
                if not self._connected.is_set():
                    busy = False
                elif not self._synced.is_set() and time.monotonic() - self._connected_at < self.config.outbox.sync_wait_s:
                    busy = False  # wait briefly for the hub's answer to our status (restored journals)
                else:
                    busy = self._send_once()
            except Exception:  # a broken pass must never end the sender; the journal keeps the records
                log.exception("outbox pass failed; retrying")
                busy = False
            if not busy:
                with self._wake:
                    self._wake.wait(0.05 if self.config.outbox.backlog_rate_per_s else 0.5)

    # ------------------------------------------------------------------ watchdog (requests only)

    def _watchdog_loop(self) -> None:
        wd = self.config.watchdog
        next_status = time.monotonic() + wd.status_every_s
        while not self._stop.wait(1.0):
            now = time.monotonic()
            if now >= next_status:
                next_status = now + wd.status_every_s
                self.publish_status()
            if self._connected.is_set():
                with self._inflight_lock:
                    waiting = bool(self._inflight)
                if waiting and now - self._last_traffic > wd.stuck_after_s:
                    self._last_traffic = now
                    self.request_restart(f"connection looks stuck (no traffic for {wd.stuck_after_s:.0f} s)")
            elif now - self._offline_since > wd.offline_restart_after_s:
                self._offline_since = now
                self.request_restart(f"offline for more than {wd.offline_restart_after_s:.0f} s")
