"""The medic's signature on each decision: a personal Ed25519 key, unlocked by the medic's PIN.

Order 266n/2021 has the medical worker sign the conclusion of a pre-shift exam; in an electronic
journal that is an electronic signature (63-FZ "On electronic signature"). A *qualified*
signature needs a certified key on a token (КриптоПро, Рутокен) that cannot run here, so this
module signs with a **simple/unqualified** electronic signature and keeps the door open:

* :class:`Signer` is the interface a decision is signed through (``key_id``, ``algorithm``,
  ``signer``, ``sign``). A qualified-signature backend implements it and is passed to
  :func:`hub.medic.record_decision` instead of :class:`Ed25519Signer`.
* Each medic enrols once: a new Ed25519 key pair; the private key is kept on the hub encrypted
  (AES-256-GCM) under a key derived from the medic's PIN with scrypt (n=2^15, r=8, p=1,
  RFC 7914), so the database alone does not sign. A PIN is short, so wrong PINs are counted and
  the key locks for ``lockout_minutes`` after ``max_attempts`` (configuration, ``[medic_signing]``
  in the hub config; defaults below).
* What is signed is the canonical JSON of the decision's identity and content
  (:data:`SIGNED_FIELDS`, sorted keys, no spaces, UTF-8). The signature, the key id and the
  SHA-256 of the payload are stored in ``medic_signatures`` in the same transaction as the
  decision, go to the kiosk with it, and are verified against the enrolled public key whenever a
  decision is listed (``signature.status``: ``valid``, ``invalid`` or ``unsigned``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from firmware_bridges.sqlite_tx import immediate_transaction
from hub.config import MedicSigningSection

ALGORITHM = "Ed25519"
#: The decision's fields the signature covers: who decided what about which exam, when, and why.
SIGNED_FIELDS = ("decision_id", "event_id", "exam_id", "worker_id", "site", "kiosk", "kiosk_outcome", "decision",
                 "reason", "referral", "notify_employer", "medic", "decided_at", "supersedes")

SCHEMA = """
CREATE TABLE IF NOT EXISTS medic_keys (
    medic TEXT PRIMARY KEY, key_id TEXT NOT NULL UNIQUE, algorithm TEXT NOT NULL, public_key TEXT NOT NULL,
    salt BLOB NOT NULL, nonce BLOB NOT NULL, encrypted_key BLOB NOT NULL, created_at TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0, locked_until TEXT
);
CREATE TABLE IF NOT EXISTS medic_retired_keys (
    key_id TEXT PRIMARY KEY, medic TEXT NOT NULL, algorithm TEXT NOT NULL, public_key TEXT NOT NULL,
    created_at TEXT NOT NULL, retired_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS medic_signatures (
    decision_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, algorithm TEXT NOT NULL, signer TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL, signature TEXT NOT NULL, signed_at TEXT NOT NULL
);
"""


#: ``[medic_signing]`` of the hub config: PIN length, attempts, lockout, whether a signature is required.
SigningSettings = MedicSigningSection


class SigningError(Exception):
    """A refused enrolment or unlock; ``status`` is the HTTP status, ``field`` the input at fault."""

    def __init__(self, status: int, message: str, field: str | None = "pin", attempts_left: int | None = None):
        super().__init__(message)
        self.status, self.field, self.attempts_left = status, field, attempts_left


class Signer(Protocol):
    """What signs a decision: an Ed25519 key here, a qualified-signature token in production."""

    key_id: str
    algorithm: str
    signer: str

    def sign(self, payload: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    key_id: str
    signer: str
    private_key: Ed25519PrivateKey
    algorithm: str = ALGORITHM

    def sign(self, payload: bytes) -> bytes:
        return self.private_key.sign(payload)


def ensure_schema(store) -> None:
    store.ensure_schema("medic_signing", SCHEMA)


def _kdf(salt: bytes) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_pin(pin: str, settings: SigningSettings) -> None:
    if not pin.isdigit() or len(pin) < settings.min_pin_length:
        raise SigningError(422, f"the PIN must be at least {settings.min_pin_length} digits")


def enrol(store, medic: str, pin: str, settings: SigningSettings, *, old_pin: str | None = None) -> dict[str, Any]:
    """Create the medic's signing key under ``pin``. A medic with a key replaces it only with the old PIN;
    the old public key is kept (``medic_retired_keys``) so that earlier signatures stay verifiable."""
    _check_pin(pin, settings)
    ensure_schema(store)
    current = store.query("SELECT key_id FROM medic_keys WHERE medic = ?", [medic])
    if current:
        if old_pin is None:
            raise SigningError(409, "this medic already has a signing key; give old_pin to replace it", "old_pin")
        unlock(store, medic, old_pin, settings)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    salt, nonce = os.urandom(16), os.urandom(12)
    encrypted = AESGCM(_kdf(salt).derive(pin.encode())).encrypt(nonce, raw, medic.encode("utf-8"))
    key_id = f"{medic}#{uuid.uuid4().hex[:12]}"
    created = _now().isoformat()
    with store.lock, immediate_transaction(store.conn) as conn:
        if current:
            conn.execute("INSERT INTO medic_retired_keys (key_id, medic, algorithm, public_key, created_at, retired_at) "
                         "SELECT key_id, medic, algorithm, public_key, created_at, ? FROM medic_keys WHERE medic = ?",
                         (created, medic))
            conn.execute("DELETE FROM medic_keys WHERE medic = ?", (medic,))
        conn.execute("INSERT INTO medic_keys (medic, key_id, algorithm, public_key, salt, nonce, encrypted_key, "
                     "created_at) VALUES (?,?,?,?,?,?,?,?)",
                     (medic, key_id, ALGORITHM, base64.b64encode(public).decode(), salt, nonce, encrypted, created))
    return key_status(store, medic)


def key_status(store, medic: str) -> dict[str, Any]:
    ensure_schema(store)
    rows = store.query("SELECT key_id, algorithm, public_key, created_at, failed_attempts, locked_until "
                       "FROM medic_keys WHERE medic = ?", [medic])
    if not rows:
        return {"medic": medic, "enrolled": False}
    return {"medic": medic, "enrolled": True, **rows[0]}


def unlock(store, medic: str, pin: str, settings: SigningSettings) -> Ed25519Signer:
    """The medic's signer, if ``pin`` opens the key; counts wrong PINs and locks the key after too many."""
    ensure_schema(store)
    rows = store.query_rows("SELECT key_id, salt, nonce, encrypted_key, failed_attempts, locked_until FROM medic_keys "
                            "WHERE medic = ?", [medic])
    if not rows:
        raise SigningError(409, "this medic has no signing key yet: enrol one with a PIN first", "pin")
    key_id, salt, nonce, encrypted, failed, locked_until = rows[0]
    now = _now()
    if locked_until and datetime.fromisoformat(locked_until) > now:
        raise SigningError(423, f"the signing key is locked after {settings.max_attempts} wrong PINs until "
                                f"{locked_until}", attempts_left=0)
    try:
        raw = AESGCM(_kdf(bytes(salt)).derive(pin.encode())).decrypt(bytes(nonce), bytes(encrypted),
                                                                      medic.encode("utf-8"))
    except InvalidTag:
        failed = (0 if locked_until else failed) + 1  # a lapsed lock starts a fresh count
        lock = (now + timedelta(minutes=settings.lockout_minutes)).isoformat() if failed >= settings.max_attempts else None
        with store.lock:
            store.conn.execute("UPDATE medic_keys SET failed_attempts = ?, locked_until = ? WHERE medic = ?",
                               (failed, lock, medic))
        left = max(0, settings.max_attempts - failed)
        raise SigningError(403, f"wrong PIN; {left} attempt(s) left before the key locks", attempts_left=left) from None
    if failed or locked_until:
        with store.lock:
            store.conn.execute("UPDATE medic_keys SET failed_attempts = 0, locked_until = NULL WHERE medic = ?", (medic,))
    return Ed25519Signer(key_id=key_id, signer=medic, private_key=Ed25519PrivateKey.from_private_bytes(raw))


def signed_payload(decision: dict[str, Any]) -> bytes:
    """The bytes a decision's signature covers (canonical JSON of :data:`SIGNED_FIELDS`)."""
    content = {key: decision.get(key) for key in SIGNED_FIELDS}
    content["notify_employer"] = bool(content["notify_employer"])
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_into(conn, decision: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """Sign ``decision`` and store the signature on ``conn`` (inside the caller's transaction)."""
    payload = signed_payload(decision)
    signature = {"key_id": signer.key_id, "algorithm": signer.algorithm, "signer": signer.signer,
                 "payload_sha256": hashlib.sha256(payload).hexdigest(),
                 "signature": base64.b64encode(signer.sign(payload)).decode(), "signed_at": _now().isoformat()}
    conn.execute("INSERT INTO medic_signatures (decision_id, key_id, algorithm, signer, payload_sha256, signature, "
                 "signed_at) VALUES (?,?,?,?,?,?,?)", (decision["decision_id"], *signature.values()))
    return signature


def _public_keys(store, key_ids: set[str]) -> dict[str, str]:
    if not key_ids:
        return {}
    marks = ",".join("?" * len(key_ids))
    rows = store.query(f"SELECT key_id, public_key FROM medic_keys WHERE key_id IN ({marks}) UNION ALL "
                       f"SELECT key_id, public_key FROM medic_retired_keys WHERE key_id IN ({marks})",
                       [*key_ids, *key_ids])
    return {row["key_id"]: row["public_key"] for row in rows}


def verify(decision: dict[str, Any], signature: dict[str, Any] | None, public_key_b64: str | None) -> str:
    """``valid`` when the stored signature matches the decision and the key; ``invalid`` otherwise; ``unsigned``."""
    if signature is None:
        return "unsigned"
    if public_key_b64 is None or signature.get("algorithm") != ALGORITHM:
        return "invalid"
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(
            base64.b64decode(signature["signature"]), signed_payload(decision))
    except (InvalidSignature, ValueError):
        return "invalid"
    return "valid"


def attach(store, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``signature`` (with its verified ``status``) to each decision row."""
    ids = [d["decision_id"] for d in decisions]
    if not ids:
        return decisions
    ensure_schema(store)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 400):
        chunk = ids[start:start + 400]
        for row in store.query(f"SELECT * FROM medic_signatures WHERE decision_id IN ({','.join('?' * len(chunk))})",
                               chunk):
            found[row["decision_id"]] = row
    keys = _public_keys(store, {s["key_id"] for s in found.values()})
    for decision in decisions:
        stored = found.get(decision["decision_id"])
        status = verify(decision, stored, keys.get(stored["key_id"]) if stored else None)
        decision["signature"] = ({"status": status, **{k: v for k, v in stored.items() if k != "decision_id"}}
                                 if stored else {"status": status})
    return decisions
