"""The kiosk's signing key and the sealing of exam records into its evidence chain.

The key is created on first start (PEM, PKCS#8, mode 0600) and never leaves the kiosk;
its public half goes to the hub's kiosk registry (``ohs-kiosk public-key``) and in every
status message. Sealing happens inside the journal's insert transaction, so the chain
state (last index and hash) and the record can never disagree after a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridges import evidence


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
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
    return evidence.public_key_b64(key.public_key())


class ChainSealer:
    """Callable given to :meth:`Journal.append` for exam records."""

    def __init__(self, key: Ed25519PrivateKey):
        self.key = key
        self.public_key = public_key_of(key)

    def __call__(self, body: dict, index: int, prev_hash: str) -> dict:
        return evidence.seal(body, index, prev_hash, self.key)
