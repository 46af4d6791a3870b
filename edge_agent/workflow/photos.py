"""Identity photos from the kiosk camera: checked, hashed and kept with the exam.

The page takes a still from the kiosk camera (``getUserMedia``) when the worker has just
been identified and while they blow into the breathalyzer (how Russian ПАК kiosks tie the
exam to the person), and posts it as a base64 JPEG. The exam record carries each photo and
its SHA-256 (``firmware_bridges.contract.IdentityPhoto``), so the hash is sealed in the
kiosk's evidence chain with the exam; the hub shows photos to the medic only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.contract import MAX_PHOTO_BYTES, IdentityPhoto


class PhotoSettings(BaseModel):
    """``[workflow.photo]``: the identity photo (design default: on; off where no camera is fitted
    or the site's policy forbids it)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_bytes: int = Field(default=MAX_PHOTO_BYTES, ge=4_000, le=MAX_PHOTO_BYTES,
                           description="largest JPEG accepted (the page scales and compresses to fit)")
    width_px: int = Field(default=320, ge=160, le=1280, description="the still's width (the page keeps the aspect)")


class PhotoRefused(ValueError):
    """A posted photo that cannot be kept (the reason is shown to the caller)."""


def photo_from_upload(stage: str, jpeg_b64: str, taken_at: datetime, max_bytes: int, attempt: int = 1) -> IdentityPhoto:
    """Decode, check (JPEG, size) and hash a posted photo; PhotoRefused says what is wrong."""
    try:
        data = base64.b64decode(jpeg_b64, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoRefused("the photo is not base64") from None
    if len(data) > max_bytes:
        raise PhotoRefused(f"the photo has {len(data)} bytes, more than the {max_bytes} allowed")
    if not data.startswith(b"\xff\xd8\xff"):
        raise PhotoRefused("the photo is not a JPEG")
    return IdentityPhoto(stage=stage, attempt=attempt, taken_at=taken_at, sha256=hashlib.sha256(data).hexdigest(),
                         jpeg_b64=base64.b64encode(data).decode("ascii"))
