"""Builders for the ingest regression tests: envelopes on the wire and an Ingest without a network.

:class:`RecordingClient` stands in for paho's client in the unit tests of ``Ingest.process``:
those tests are about what the ingest stores, PUBACKs and acks for one batch, and a broker
adds nothing there. The end-to-end tests in this folder use a real mosquitto.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from firmware_bridges.contract import Ack, make_envelope
from hub.config import HubConfig
from hub.ingest import Incoming, Ingest
from hub.store import Store, utc_now
from tests.foundation.helpers import exam_body
from tests.storage.backend import store_target, use_store_of_this_test  # noqa: F401 — used by the tests here

SITE, KIOSK = "plant-1", "kiosk-01"


class RecordingClient:
    """Stand-in for paho's client: records PUBACKs and published acks (no network)."""

    def __init__(self):
        self.pubacks: list[int] = []
        self.published: list[tuple[str, bytes]] = []

    def ack(self, mid: int, qos: int) -> None:
        self.pubacks.append(mid)

    def publish(self, topic: str, payload, qos: int = 0, retain: bool = False):
        self.published.append((topic, payload.encode() if isinstance(payload, str) else payload))

    def acks(self) -> list[Ack]:
        return [Ack.model_validate_json(p) for t, p in self.published if t.endswith("/ack")]


def make_ingest(tmp_path, store: Store | None = None, **ingest_settings) -> Ingest:
    config = HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db")},
                                       "ingest": ingest_settings})
    ingest = Ingest(config, store or Store(store_target(tmp_path)))
    ingest.client = RecordingClient()
    return ingest


def exam_wire(seq: int, *, incarnation: str | None = "inc-a", event_id: str | None = None, worker: str = "W00001",
              kiosk: str = KIOSK, body: dict | None = None) -> tuple[str, bytes]:
    envelope = make_envelope(SITE, kiosk, "exam", body or exam_body(worker), seq, event_id=event_id,
                             incarnation=incarnation)
    return f"ohs/v1/{SITE}/{kiosk}/exam", envelope.to_json()


def incoming(messages: list[tuple[str, bytes]], first_mid: int = 1) -> list[Incoming]:
    return [Incoming(topic, payload, first_mid + i, 1, 0, utc_now()) for i, (topic, payload) in enumerate(messages)]


def raw_envelope(seq: int, body: dict, **fields) -> bytes:
    data = {"schema": 1, "site": SITE, "kiosk": KIOSK, "seq": seq, "incarnation": "inc-a",
            "event_id": str(uuid.uuid4()), "ts": datetime.now(timezone.utc).isoformat(), "historical": False,
            "kind": "exam", "body": body, **fields}
    return json.dumps(data).encode()
