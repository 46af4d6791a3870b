"""The per-kiosk evidence chain over exam records: SHA-256 links signed with Ed25519.

Issue 5 ("Evidence"): exam records form a per-kiosk hash chain signed with the kiosk's
Ed25519 key; the hub verifies chain and signature on ingest and flags any gap or break.
An electronic exam journal must be tamper-evident (reference.md §1.6: paper journals
are laced and sealed, electronic ones signed).

``hash_i = SHA-256( "ohs-exam-chain-v1" | index | prev_hash | canonical_json(body without "chain") )``
and ``sig_i = Ed25519(hash_i)``. The canonical JSON is sorted keys, no spaces, UTF-8.
The first record links to 64 zeros. Pure functions: the kiosk seals, the hub verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GENESIS = "0" * 64
DOMAIN = b"ohs-exam-chain-v1"


def canonical_json(body: dict[str, Any]) -> bytes:
    content = {k: v for k, v in body.items() if k != "chain"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def link_hash(index: int, prev_hash: str, body: dict[str, Any],
              canonical: Callable[[dict[str, Any]], bytes] = canonical_json) -> str:
    """``canonical``: :func:`canonical_json` or a function giving the same bytes (the hub's faster one)."""
    digest = hashlib.sha256()
    digest.update(DOMAIN)
    digest.update(b"|%d|" % index)
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"|")
    digest.update(canonical(body))
    return digest.hexdigest()


def public_key_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def key_id(public_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def load_public_key(public_b64: str) -> Ed25519PublicKey:
    raw = base64.b64decode(public_b64, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def seal(body: dict[str, Any], index: int, prev_hash: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The body with its ``chain`` seal added (index, prev, hash, sig, key_id)."""
    digest = link_hash(index, prev_hash, body)
    public_b64 = public_key_b64(private_key.public_key())
    signature = base64.b64encode(private_key.sign(bytes.fromhex(digest))).decode("ascii")
    return {**body, "chain": {"index": index, "prev": prev_hash, "hash": digest, "sig": signature,
                              "key_id": key_id(public_b64)}}


def verify_signature(public_b64: str, signature: Any, digest: str) -> None:
    """Raise InvalidSignature unless ``signature`` (base64) signs the hash ``digest`` (hex) under the key."""
    load_public_key(public_b64).verify(base64.b64decode(signature, validate=True), bytes.fromhex(digest))


def check_seal(body: dict[str, Any], public_b64: str | None,
               canonical: Callable[[dict[str, Any]], bytes] = canonical_json,
               verify: Callable[[str, Any, str], None] = verify_signature) -> str:
    """Verify one record on its own: ``ok``, ``unsigned``, ``unknown_key``, ``hash_mismatch``,
    ``bad_signature`` or ``malformed_seal``. Links between records are checked by the hub's store.
    ``canonical``: as in :func:`link_hash`; ``verify``: :func:`verify_signature` or one with its results
    (the hub's, which may have checked the signature in another process)."""
    chain = body.get("chain")
    if chain is None:
        return "unsigned"
    try:
        index, prev, digest, signature = int(chain["index"]), str(chain["prev"]), str(chain["hash"]), chain["sig"]
        if index < 1 or len(prev) != 64:
            return "malformed_seal"
        if link_hash(index, prev, body, canonical) != digest:
            return "hash_mismatch"
        if public_b64 is None:
            return "unknown_key"
        if chain.get("key_id") not in (None, key_id(public_b64)):
            return "unknown_key"
        verify(public_b64, signature, digest)
    except InvalidSignature:
        return "bad_signature"
    except (KeyError, TypeError, ValueError):
        return "malformed_seal"
    return "ok"


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The kiosk's signing key from ``path`` (PEM, PKCS#8); created with mode 0600 when absent."""
    path = Path(path)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def public_key_of(key: Ed25519PrivateKey) -> str:
    return public_key_b64(key.public_key())
