"""Sealing the kiosk's exam records into its evidence chain (``firmware_bridges.evidence``).

The signing key is created on first start (PEM, PKCS#8, mode 0600) and never leaves the
kiosk; its public half goes to the hub's kiosk registry (``ohs-kiosk public-key``) and in
every status message. Sealing happens inside the journal's insert transaction, so the
chain state (last index and hash) and the record can never disagree after a crash.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridges import evidence
from firmware_bridges.evidence import load_or_create_key, public_key_of

__all__ = ["ChainSealer", "load_or_create_key", "public_key_of"]


class ChainSealer:
    """Callable given to :meth:`Journal.append` for exam records."""

    def __init__(self, key: Ed25519PrivateKey):
        self.key = key
        self.public_key = public_key_of(key)

    def __call__(self, body: dict, index: int, prev_hash: str) -> dict:
        return evidence.seal(body, index, prev_hash, self.key)
