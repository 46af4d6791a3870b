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

import logging
import sqlite3
import zlib
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

from cryptography.exceptions import InvalidSignature

from firmware_bridges.evidence import GENESIS, check_seal, verify_signature
from hub.wire_json import canonical_json as fast_canonical_json

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
                    incarnation: str = "", keys: dict[tuple[str, str], str | None] | None = None,
                    verdicts: "Verdicts | None" = None) -> str:
    """Check one exam's seal and its links; update the chain table. Returns its status.

    ``keys``: kiosk keys already read in this transaction ((site, kiosk) -> key), filled as it goes;
    whoever registers a key in the transaction drops its entry. ``verdicts``: signatures already checked
    by a :class:`SignaturePool`. The seal's canonical JSON is written by orjson where that gives the json
    module's bytes (:mod:`hub.wire_json`)."""
    key = (site, kiosk, incarnation)
    _serialise_chain(conn, key)
    if keys is None:
        public_key = key_for(conn, site, kiosk)
    elif (site, kiosk) in keys:
        public_key = keys[(site, kiosk)]
    else:
        public_key = keys[(site, kiosk)] = key_for(conn, site, kiosk)
    status = check_seal(body, public_key, fast_canonical_json,
                        verify_signature if verdicts is None else verdicts.verify)
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
    # the predecessor and a successor waiting for this record, in one query
    neighbours = {row[0]: row[1:] for row in conn.execute(
        "SELECT idx, hash, status, event_id, prev FROM exam_chain WHERE site = ? AND kiosk = ? AND incarnation = ? "
        "AND idx IN (?, ?)", (*key, index - 1, index + 1))}
    if index == 1:
        status = "ok" if prev == GENESIS else "broken_link"
    else:
        row = neighbours.get(index - 1)
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
    successor = neighbours.get(index + 1)
    if successor is not None and successor[1] in WAITING:
        _settle(conn, key, index + 1, successor[2], "ok" if successor[3] == digest else "broken_link")
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
    _settle(conn, key, index + 1, successor[0], "ok" if digest is not None and successor[1] == digest
            else "broken_link")


def _settle(conn: sqlite3.Connection, key: tuple[str, str, str], index: int, event_id: str, resolved: str) -> None:
    """Give the waiting record at ``index`` (exam ``event_id``) its settled status."""
    conn.execute("UPDATE exam_chain SET status = ? WHERE site = ? AND kiosk = ? AND incarnation = ? AND idx = ?",
                 (resolved, *key, index))
    conn.execute("UPDATE exams SET chain_status = ? WHERE event_id = ?", (resolved, event_id))


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


# --------------------------------------------------------------------------- signatures in another process

log = logging.getLogger(__name__)

SignatureJob = tuple[str, str, str]  # public key (base64), signature (base64), hash (hex): verify_signature's


def check_signatures(jobs: list[SignatureJob]) -> list[bool | None]:
    """In the pool's process: per job True (valid), False (InvalidSignature) or None (anything else, e.g. a
    malformed key or signature: left to the ingest's own check_seal, which names it)."""
    verdicts: list[bool | None] = []
    for public_b64, signature, digest in jobs:
        try:
            verify_signature(public_b64, signature, digest)
            verdicts.append(True)
        except InvalidSignature:
            verdicts.append(False)
        except Exception:  # noqa: BLE001 — decided again, and named, by check_seal in the ingest
            verdicts.append(None)
    return verdicts


class Verdicts:
    """The signatures of one batch being checked in the pool, in chunks, in the order the batch stores them.

    :meth:`verify` has :func:`verify_signature`'s results: a job the pool answered True or False is not
    checked again (it waits for its chunk if need be); anything else — a job not sent, a chunk that failed,
    a verdict of None — is checked here, as without the pool. A verdict is looked up by the exact (key,
    signature, hash), so a key changed meanwhile only means checking inline."""

    def __init__(self, jobs: list[SignatureJob], chunks: list[tuple[int, Future]]):
        self._where = {job: n for n, job in enumerate(jobs)}
        self._chunks = chunks  # (first job number, future of its verdicts)

    def verify(self, public_b64: str, signature, digest: str) -> None:
        n = self._where.get((public_b64, signature, digest)) if isinstance(signature, str) else None
        verdict = self._verdict(n) if n is not None else None
        if verdict is None:
            verify_signature(public_b64, signature, digest)
        elif not verdict:
            raise InvalidSignature()

    def _verdict(self, n: int) -> bool | None:
        for first, future in reversed(self._chunks):
            if n >= first:
                try:
                    verdicts = future.result()
                except Exception as error:  # noqa: BLE001 — a broken pool: the ingest checks inline
                    log.warning("the signature pool failed (%s: %s); checking inline", type(error).__name__, error)
                    return None
                return verdicts[n - first] if n - first < len(verdicts) else None
        return None


class SignaturePool:
    """Ed25519 checks of a batch's exam signatures in one worker process, while the ingest's writer thread
    parses, links and stores (issue 11: a signature check is ~70 µs of an exam's ~350 µs on one core).

    Started on the first batch with ``min_exams`` signed exams (a quiet hub never starts it), used once its
    process runs (until then, and whenever it fails, signatures are checked inline); the first chunk is small so the writer waits little for it, the pool then keeps ahead. Every verdict means
    exactly what :func:`verify_signature` would have said (see :class:`Verdicts`)."""

    def __init__(self, min_exams: int = 32, first_chunk: int = 16, chunk: int = 128):
        self.min_exams, self.first_chunk, self.chunk = min_exams, first_chunk, chunk
        self._executor: ProcessPoolExecutor | None = None
        self._started: Future | None = None

    def submit(self, jobs: list[SignatureJob]) -> Verdicts | None:
        """Send the batch's jobs (in the order its exams will be stored); None when too few to be worth it."""
        if len(jobs) < self.min_exams:
            return None
        if self._executor is None:  # started in the background: batches are checked inline until it runs
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
            self._started = self._executor.submit(check_signatures, [])
        if not self._started.done():
            return None
        chunks, first, size = [], 0, self.first_chunk
        try:
            while first < len(jobs):
                chunks.append((first, self._executor.submit(check_signatures, jobs[first:first + size])))
                first, size = first + size, self.chunk
        except Exception as error:  # noqa: BLE001 — a broken pool: started again on the next batch
            log.warning("the signature pool refused work (%s: %s); checking inline", type(error).__name__, error)
            self.close()
        return Verdicts(jobs, chunks) if chunks else None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def signature_job(public_b64: str | None, body: dict) -> SignatureJob | None:
    """The check :func:`check_seal` will make of this exam's signature, if it gets that far; else None."""
    chain = body.get("chain")
    if public_b64 is None or not isinstance(chain, dict):
        return None
    signature, digest = chain.get("sig"), chain.get("hash")
    if not isinstance(signature, str) or not isinstance(digest, str):
        return None
    return public_b64, signature, digest
