"""Verifying each kiosk's exam chain on ingest (see ``firmware_bridges.evidence``).

Per exam the hub records a ``chain_status``:

* ``ok`` — signature valid and linked to the stored predecessor (or the genesis);
* ``pending_link`` — signature valid, the predecessor has not arrived yet (a gap: backlog
  may still be on its way); it turns ``ok`` or ``broken_link`` when the predecessor comes;
* ``broken_link`` — the predecessor is stored but its hash is not this record's ``prev``;
* ``fork`` — another exam of this kiosk already holds this chain index;
* ``unsigned``, ``unknown_key``, ``hash_mismatch``, ``bad_signature``, ``malformed_seal``.

Anything but ``ok``/``pending_link`` is a break the OHS and the medic must see.
"""

from __future__ import annotations

import sqlite3

from firmware_bridges.evidence import GENESIS, check_seal

BREAKS = ("broken_link", "fork", "unsigned", "unknown_key", "hash_mismatch", "bad_signature", "malformed_seal")

SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosk_keys (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, public_key TEXT NOT NULL, source TEXT NOT NULL, added_at TEXT NOT NULL,
    PRIMARY KEY (site, kiosk)
);
CREATE TABLE IF NOT EXISTS exam_chain (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, idx INTEGER NOT NULL, event_id TEXT NOT NULL,
    hash TEXT NOT NULL, prev TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (site, kiosk, idx)
) WITHOUT ROWID;
"""


def key_for(conn: sqlite3.Connection, site: str, kiosk: str) -> str | None:
    row = conn.execute("SELECT public_key FROM kiosk_keys WHERE site = ? AND kiosk = ?", (site, kiosk)).fetchone()
    return row[0] if row else None


def verify_and_link(conn: sqlite3.Connection, site: str, kiosk: str, event_id: str, body: dict) -> str:
    """Check one exam's seal and its links; update the chain table. Returns its status."""
    status = check_seal(body, key_for(conn, site, kiosk))
    if status != "ok":
        return status
    chain = body["chain"]
    index, prev, digest = int(chain["index"]), chain["prev"], chain["hash"]
    if index == 1:
        status = "ok" if prev == GENESIS else "broken_link"
    else:
        row = conn.execute("SELECT hash FROM exam_chain WHERE site = ? AND kiosk = ? AND idx = ?",
                           (site, kiosk, index - 1)).fetchone()
        status = "pending_link" if row is None else ("ok" if row[0] == prev else "broken_link")
    inserted = conn.execute(
        "INSERT OR IGNORE INTO exam_chain (site, kiosk, idx, event_id, hash, prev, status) VALUES (?,?,?,?,?,?,?)",
        (site, kiosk, index, event_id, digest, prev, status),
    ).rowcount
    if not inserted:
        return "fork"
    successor = conn.execute(
        "SELECT event_id, prev FROM exam_chain WHERE site = ? AND kiosk = ? AND idx = ? AND status = 'pending_link'",
        (site, kiosk, index + 1),
    ).fetchone()
    if successor is not None:
        resolved = "ok" if successor[1] == digest else "broken_link"
        conn.execute("UPDATE exam_chain SET status = ? WHERE site = ? AND kiosk = ? AND idx = ?",
                     (resolved, site, kiosk, index + 1))
        conn.execute("UPDATE exams SET chain_status = ? WHERE event_id = ?", (resolved, successor[0]))
    return status
