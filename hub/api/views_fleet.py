"""Response models of the admin's conflict routes (hub.api.routes_admin) and the fleet routes
(hub.api.routes_fleet; docs/fleet.md). No exam value passes here: a conflict's ``payload`` is the
refused record, shown to the admin only (every read audited), as routes_admin has always done.
"""

from __future__ import annotations

from typing import Any

from hub.api.views_base import Closed, Json

Number = int | float


class ConflictRow(Closed):
    id: int
    received_at: str
    site: str
    kiosk: str
    incarnation: str
    seq: int
    event_id: str
    kind: str
    code: str
    reason: str
    resolved_at: str | None
    resolved_by: str | None
    resolution: str | None


class ConflictList(Closed):
    items: list[ConflictRow]
    total: int


class HeldRecord(Closed):
    """The record the hub holds under the same identity."""

    event_id: str
    kind: str
    received_at: str
    content_hash: str | None


class Conflict(ConflictRow):
    """One conflicting record, whole (admin only; audited), beside the record held."""

    content_hash: str
    payload: Any
    held: HeldRecord | None


class ConflictResolved(Closed):
    id: int
    resolved_by: str
    resolution: str


class FleetConfig(Closed):
    desired_version: int | None
    published: bool | None
    running_version: Any
    in_sync: bool
    pending: Any
    rejected: Any


class FleetKiosk(Closed):
    site: str
    kiosk: str
    registered: bool
    revoked_at: str | None
    state: str | None
    last_seen: str | None
    status_ts: str | None
    clock_offset_s: Number | None
    clock_skew: bool
    config: FleetConfig
    roster_version: Any
    problems: list[str]


class FleetProblem(Closed):
    code: str
    count: int
    kiosks: list[str]
    message: str


class Fleet(Closed):
    clock_skew_max_s: Number
    items: list[FleetKiosk]
    total: int
    problems: list[FleetProblem]


class DesiredConfig(Closed):
    version: int
    who: str
    created_at: str
    published_at: str | None
    message: Json


class RunningConfig(Closed):
    """The version the kiosk reports running (its last status); the detail keys only once it reported."""

    version: Any
    reported_at: str | None
    state: str | None
    received: Any = None
    pending: Any = None
    rejected: Any = None


class ConfigVersion(Closed):
    version: int
    who: str
    created_at: str
    published_at: str | None


class KioskConfig(Closed):
    site: str
    kiosk: str
    desired: DesiredConfig | None
    running: RunningConfig
    in_sync: bool
    history: list[ConfigVersion]


class ConfigPublished(Closed):
    """A configuration version stored; ``published`` once the broker confirmed it (else ``reason``)."""

    site: str
    kiosk: str
    version: int
    published: bool
    reason: str | None
