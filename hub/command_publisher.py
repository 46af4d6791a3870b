"""What the hub's command publishers share: a thread that runs ``flush`` after each wake and every
``retry_s`` seconds, and one publish that counts only after the broker's PUBACK.

Two publishers use it: the medic's decisions (:class:`hub.medic.DecisionPublisher`) and the
sites' rosters (:class:`hub.workers.RosterPublisher`). ``ingest`` is the hub's
:class:`~hub.ingest.Ingest` (its paho client is shared); without one nothing is sent and
nothing is lost — what is waiting stays marked unsent in the store.
"""

from __future__ import annotations

import abc
import logging
import threading
from typing import Any

from firmware_bridges.contract import Command, topic

log = logging.getLogger(__name__)


class CommandPublisher(abc.ABC):
    thread_name = "command-publisher"

    def __init__(self, store, ingest: Any = None, *, retry_s: float = 2.0, puback_timeout_s: float = 3.0):
        self.store = store
        self.ingest = ingest
        self.retry_s = retry_s
        self.puback_timeout_s = puback_timeout_s
        self.counters = {"published": 0, "failed_attempts": 0}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def flush(self) -> int:
        """Publish what is waiting; return how many went out."""

    @property
    def connected(self) -> bool:
        return bool(self.ingest is not None and self.ingest.client is not None and self.ingest.connected)

    @property
    def running(self) -> bool:
        """True while the background retry thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def publish(self, site: str, kiosk: str, command: Command) -> bool:
        """Send one command (QoS 1); True only when the broker acknowledged it in time."""
        try:
            info = self.ingest.client.publish(topic(site, kiosk, "cmd"), command.model_dump_json(by_alias=True), qos=1)
            info.wait_for_publish(timeout=self.puback_timeout_s)
            published = info.is_published()
        except (RuntimeError, ValueError) as error:
            log.warning("%s to %s/%s failed: %s", command.type, site, kiosk, error)
            published = False
        if published:
            self.counters["published"] += 1
        else:
            self.counters["failed_attempts"] += 1
        return published

    def wake(self) -> None:
        self._wake.set()

    def start(self):
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except Exception:  # a failed pass leaves everything marked unsent; the next pass retries
                log.exception("%s pass failed; will retry", self.thread_name)
