"""The kiosk runtime: the journal, the uplink, and the one way records enter the system.

Everything a kiosk produces goes through :meth:`KioskAgent.record`: it validates the body
against the wire contract (so an invalid record is refused at the source, with a reason),
journals it durably, and only then wakes the uplink.
"""

from __future__ import annotations

import logging
from typing import Callable

from pydantic import BaseModel, ValidationError

from edge_agent.config import KioskConfig
from edge_agent.evidence import ChainSealer, load_or_create_key
from edge_agent.journal import Journal, JournalRecord
from edge_agent.uplink import Uplink
from firmware_bridges.contract import BODY_MODELS, RECORD_KINDS

log = logging.getLogger("edge_agent")


class RecordRejected(ValueError):
    """A record that does not follow the wire contract; nothing was journaled."""


class KioskAgent:
    def __init__(self, config: KioskConfig, *, status_extra: Callable[[], dict] | None = None,
                 on_command: Callable[[str, dict], None] | None = None):
        self.config = config
        self.journal = Journal(config.journal.path, synchronous=config.journal.synchronous)
        self.sealer = ChainSealer(load_or_create_key(config.signing_key_path))
        self.uplink = Uplink(config, self.journal, public_key=self.sealer.public_key,
                             status_extra=status_extra, on_command=on_command)

    def start(self) -> "KioskAgent":
        self.uplink.start()
        return self

    def stop(self, *, graceful: bool = True) -> None:
        self.uplink.stop(graceful=graceful)
        self.journal.close()

    def record(self, kind: str, body: dict | BaseModel) -> JournalRecord:
        """Validate, journal durably, then hand to the uplink. Raises RecordRejected."""
        if kind not in RECORD_KINDS:
            raise RecordRejected(f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_KINDS)}")
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json")
        try:
            validated = BODY_MODELS[kind].model_validate(body)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or kind}: {e['msg']}" for e in error.errors()[:5]
            )
            raise RecordRejected(f"{kind} record refused: {problems}") from None
        body = validated.model_dump(mode="json", exclude={"chain"} if kind == "exam" else None)
        record = self.journal.append(kind, body, seal=self.sealer if kind == "exam" else None)
        self.uplink.notify()
        return record

    def status(self) -> dict:
        return {
            "site": self.config.identity.site,
            "kiosk": self.config.identity.kiosk,
            "connected": self.uplink.connected,
            "outbox_depth": self.journal.outbox_depth(),
            "last_seq": self.journal.last_seq(),
            "counters": dict(self.uplink.counters),
        }
