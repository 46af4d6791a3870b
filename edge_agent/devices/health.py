"""The health record of one device: its state, why, since when, and what it last measured.

``DeviceHealth.to_dict()`` is what ``DeviceSupervisor.health()`` returns per device and
what goes into the kiosk ``status`` message body ``devices`` (JSON-serialisable).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from typing import Any, Callable, Literal

from edge_agent.devices.config import DeviceDeclaration
from edge_agent.devices.messages import message_for
from firmware_bridges.devices import DeviceError

State = Literal["ok", "connecting", "fault", "disabled"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


class DeviceHealth:
    """Mutable health of one declared device; every change goes through a method here."""

    def __init__(self, decl: DeviceDeclaration, on_change: Callable[["DeviceHealth"], None] | None = None,
                 wallclock: Callable[[], datetime] = utcnow) -> None:
        self.decl = decl
        self._on_change = on_change
        self._now = wallclock
        self.state: State = "connecting"
        self.code = "connecting"
        self.message_ru, self.message_en = message_for("connecting", decl.kind)
        self.detail_en: str | None = None
        self.since = self._now()
        self.last_reading_at: datetime | None = None
        self.last_error: dict[str, Any] | None = None
        self.error_counts: Counter[str] = Counter()
        self.warnings: dict[str, dict[str, Any]] = {}
        self._fault_error: DeviceError | None = None
        if not decl.enabled:
            self._set("disabled", "disabled")
        self._check_verification()

    # ----------------------------------------------------------------- transitions
    def _set(self, state: State, code: str, error: DeviceError | None = None, **fmt: object) -> None:
        changed = (state, code) != (self.state, self.code)
        self.state, self.code = state, code
        if state != "fault":
            self._fault_error = None
        self.message_ru, self.message_en = message_for(code, self.decl.kind, error, **fmt)
        self.detail_en = error.message_en if error is not None else None
        if changed:
            self.since = self._now()
            if self._on_change is not None:
                self._on_change(self)

    def connecting(self) -> None:
        if self.state != "fault":  # while retrying after a fault, keep saying what the fault is
            self._set("connecting", "connecting")

    def ok(self) -> None:
        self._set("ok", "ok")

    def fault(self, error: DeviceError) -> None:
        """The device cannot work now; ``error`` says why."""
        if error is self._fault_error:
            return  # the same failure reported twice (by measure() and by the supervision loop)
        self._fault_error = error
        self.note_error(error)
        if self.state == "fault" and self.code == "disconnected" and error.code == "not_responding":
            return  # re-opening fails while the cable is out: keep saying what happened first
        self._set("fault", error.code, error)

    def note_error(self, error: DeviceError) -> None:
        """Record an error (of a measurement, or a skipped frame) without changing the state."""
        ru, en = message_for(error.code, self.decl.kind, error)
        self.last_error = {"code": error.code, "message_ru": ru, "message_en": en,
                           "detail_en": error.message_en, "at": _iso(self._now())}
        self.error_counts[error.code] += 1

    def reading(self, at: datetime | None = None) -> None:
        """A valid reading arrived: the device works."""
        self.last_reading_at = at or self._now()
        self.last_error = None
        if self.state != "ok":
            self.ok()

    # ----------------------------------------------------------------- warnings
    def warn(self, code: str, **fmt: object) -> None:
        ru, en = message_for(code, self.decl.kind, **fmt)
        self.warnings[code] = {"code": code, "message_ru": ru, "message_en": en, "at": _iso(self._now())}

    def clear_warning(self, code: str) -> None:
        self.warnings.pop(code, None)

    def _check_verification(self) -> None:
        until = self.decl.identity.verified_until
        if not until:
            return
        try:
            expired = date.fromisoformat(until[:10]) < self._now().date()
        except ValueError:
            return
        if expired:
            self.warn("verification_expired", date=until)

    # ----------------------------------------------------------------- output
    def to_dict(self) -> dict[str, Any]:
        ident = self.decl.identity
        return {
            "kind": self.decl.kind,
            "model": ident.model,
            "serial": ident.serial,
            "verified_until": ident.verified_until,
            "state": self.state,
            "code": self.code,
            "message_ru": self.message_ru,
            "message_en": self.message_en,
            "last_reading_at": _iso(self.last_reading_at),
            "since": _iso(self.since),
            "transport": self.decl.transport,
            "profile": self.decl.profile,
            "zone": self.decl.zone,
            "detail_en": self.detail_en,
            "last_error": dict(self.last_error) if self.last_error else None,
            "error_counts": dict(self.error_counts),
            "warnings": [dict(w) for w in self.warnings.values()],
        }


__all__ = ["DeviceHealth", "State", "utcnow"]
