"""Verifying each kiosk's exam chain on ingest (see ``firmware_bridges.evidence``).

Per exam the hub records a ``chain_status``:

* ``ok`` — signature valid and linked to the stored predecessor (or the genesis);
* ``pending_link`` — signature valid, the predecessor has not arrived yet (backlog may
  still be on its way); it turns ``ok`` or ``broken_link`` when the predecessor comes;
* ``gap`` — still no predecessor after ``evidence.gap_after_s`` (a deleted or lost record):
  flagged; it still turns ``ok`` or ``broken_link`` if the predecessor arrives later;
* ``broken_link`` — the predecessor is stored but its hash is not this record's ``prev``,
  or the predecessor itself failed verification (tampered, badly signed);
* ``fork`` — another exam of this journal already holds this chain index;
* ``unsigned``, ``unknown_key``, ``hash_mismatch``, ``bad_signature``, ``malformed_seal``.

A chain belongs to one journal *incarnation* (the kiosk's chain state lives in its journal,
so a re-imaged kiosk starts a new chain at index 1). Anything but ``ok``/``pending_link``
is a break the OHS and the medic must see (issue 10, defect 7).
"""

from __future__ import annotations

import sqlite3
import zlib

from firmware_bridges.evidence import GENESIS, check_seal

BREAKS = ("broken_link", "fork", "gap", "unsigned", "unknown_key", "hash_mismatch", "bad_signature",
          "malformed_seal")
#: Statuses of records whose own seal failed: their claimed hash cannot be trusted as a link.
UNVERIFIED = ("unknown_key", "hash_mismatch", "bad_signature", "malformed_seal")
#: Statuses that wait for a predecessor and settle when it arrives.
WAITING = ("pending_link", "gap")

#: The tables (``kiosk_keys``, ``exam_chain``) are part of the hub's schema (hub/db/baseline.py).


def key_for(conn: sqlite3.Connection, site: str, kiosk: str) -> str | None:
    row = conn.execute("SELECT public_key FROM kiosk_keys WHERE site = ? AND kiosk = ?", (site, kiosk)).fetchone()
    return row[0] if row else None


def _claimed_index(body: dict) -> int | None:
    try:
        index = int(body["chain"]["index"])
    except (KeyError, TypeError, ValueError):
        return None
    return index if 1 <= index <= 2**62 else None


def verify_and_link(conn: sqlite3.Connection, site: str, kiosk: str, event_id: str, body: dict,
                    incarnation: str = "") -> str:
    """Check one exam's seal and its links; update the chain table. Returns its status."""
    key = (site, kiosk, incarnation)
    _serialise_chain(conn, key)
    status = check_seal(body, key_for(conn, site, kiosk))
    if status != "ok":
        index = _claimed_index(body) if status in UNVERIFIED else None
        if index is not None:  # hold its place, so the successor settles as broken_link instead of waiting
            conn.execute(
                "INSERT INTO exam_chain (site, kiosk, incarnation, idx, event_id, hash, prev, status) "
                "VALUES (?,?,?,?,?,'','',?) ON CONFLICT DO NOTHING", (*key, index, event_id, status))
            _settle_successor(conn, key, index, digest=None)
        return status
    chain = body["chain"]
    index, prev, digest = int(chain["index"]), chain["prev"], chain["hash"]
    if index == 1:
        status = "ok" if prev == GENESIS else "broken_link"
    else:
        row = conn.execute("SELECT hash, status FROM exam_chain WHERE site = ? AND kiosk = ? AND incarnation = ? "
                           "AND idx = ?", (*key, index - 1)).fetchone()
        if row is None:
            status = "pending_link"
        elif row[1] in UNVERIFIED:
            status = "broken_link"
        else:
            status = "ok" if row[0] == prev else "broken_link"
    inserted = conn.execute(
        "INSERT INTO exam_chain (site, kiosk, incarnation, idx, event_id, hash, prev, status) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", (*key, index, event_id, digest, prev, status),
    ).rowcount
    if not inserted:
        return "fork"
    _settle_successor(conn, key, index, digest)
    return status


def _serialise_chain(conn, key: tuple[str, str, str]) -> None:
    """On PostgreSQL, where several hub workers write at once, one transaction at a time links a given
    journal's chain (a transaction-scoped advisory lock on the journal): otherwise two workers storing
    neighbours concurrently would each miss the other's uncommitted row and leave both waiting. SQLite
    has one writer at a time anyway."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(key),))


def _lock_key(key: tuple[str, str, str]) -> int:
    """A signed 64-bit advisory-lock key for one journal (CRC-32 of its identity in the low bits,
    a constant tag in the high ones so other advisory locks of the hub never collide with it)."""
    return (0x4348 << 32) | zlib.crc32("\x1f".join(key).encode("utf-8"))


def _settle_successor(conn: sqlite3.Connection, key: tuple[str, str, str], index: int, digest: str | None) -> None:
    """The record after ``index`` was waiting for it: link it now (``digest`` None: unverified)."""
    successor = conn.execute(
        "SELECT event_id, prev FROM exam_chain WHERE site = ? AND kiosk = ? AND incarnation = ? AND idx = ? "
        "AND status IN ('pending_link', 'gap')", (*key, index + 1),
    ).fetchone()
    if successor is None:
        return
    resolved = "ok" if digest is not None and successor[1] == digest else "broken_link"
    conn.execute("UPDATE exam_chain SET status = ? WHERE site = ? AND kiosk = ? AND incarnation = ? AND idx = ?",
                 (resolved, *key, index + 1))
    conn.execute("UPDATE exams SET chain_status = ? WHERE event_id = ?", (resolved, successor[0]))


def flag_gaps(conn: sqlite3.Connection, received_before: str) -> int:
    """Turn ``pending_link`` records received before ``received_before`` (ISO UTC) into ``gap``.

    A predecessor that has not come after the configured wait was deleted or lost; the
    record is flagged so the OHS and the medic see it. Returns how many were flagged.
    """
    waiting = [row[0] for row in conn.execute(
        "SELECT event_id FROM exams WHERE chain_status = 'pending_link' AND received_at < ?", (received_before,))]
    for event_id in waiting:
        conn.execute("UPDATE exams SET chain_status = 'gap' WHERE event_id = ?", (event_id,))
        conn.execute("UPDATE exam_chain SET status = 'gap' WHERE event_id = ? AND status = 'pending_link'",
                     (event_id,))
    return len(waiting)
