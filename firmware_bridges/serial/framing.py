"""Stream framers: bytes from a serial line → candidate frames, with resync after garbage.

A framer never raises: ``feed()`` returns a list of items, each either ``bytes`` (one
complete candidate frame, to be handed to a pure codec) or a :class:`FrameError` (what was
skipped and why). The codec does the strict checks (checksum, fields); the framer only
finds boundaries, bounds memory and resynchronises (devices.md §12.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class FrameError:
    """Bytes the framer discarded, and why (for logs and fault counters)."""

    reason: str
    data: bytes = b""

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return f"{self.reason} ({self.data.hex(' ')})"


FramerItem = bytes | FrameError


class LineFramer:
    """CR/LF/CRLF-terminated lines (NMEA-style alcotester, CDC badge readers).

    Lines longer than ``max_len`` are dropped (garbage with no newline must not grow the
    buffer without limit). Empty lines are skipped.
    """

    def __init__(self, max_len: int = 256) -> None:
        self.max_len = max_len
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[FramerItem]:
        out: list[FramerItem] = []
        for b in data:
            if b in (0x0A, 0x0D):
                if self._overflow:
                    out.append(FrameError(f"line longer than {self.max_len} bytes dropped"))
                elif self._buf:
                    out.append(bytes(self._buf))
                self._buf.clear()
                self._overflow = False
                continue
            if self._overflow:
                continue
            self._buf.append(b)
            if len(self._buf) > self.max_len:
                self._buf.clear()
                self._overflow = True
        return out

    def reset(self) -> None:
        self._buf.clear()
        self._overflow = False


class FixedFramer:
    """Fixed-length frames that start with ``sync`` (PMS5003 ``42 4D``, RDM6300 ``02``).

    ``validate(candidate) -> str | None`` returns None when the candidate is a frame, or a
    reason; on a reason the framer drops only the first sync byte and searches again, so a
    frame hidden behind a false sync is still found (resync after garbage).
    """

    def __init__(self, sync: bytes, length: int, validate: Callable[[bytes], str | None]) -> None:
        self.sync = sync
        self.length = length
        self.validate = validate
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[FramerItem]:
        self._buf.extend(data)
        out: list[FramerItem] = []
        while True:
            i = self._buf.find(self.sync)
            if i < 0:
                # keep a possible partial sync at the end
                keep = len(self.sync) - 1
                junk = bytes(self._buf[: len(self._buf) - keep]) if keep else bytes(self._buf)
                if junk:
                    out.append(FrameError("no sync: garbage skipped", junk))
                del self._buf[: len(junk)]
                return out
            if i > 0:
                out.append(FrameError("no sync: garbage skipped", bytes(self._buf[:i])))
                del self._buf[:i]
            if len(self._buf) < self.length:
                return out
            cand = bytes(self._buf[: self.length])
            why = self.validate(cand)
            if why is None:
                out.append(cand)
                del self._buf[: self.length]
            else:
                out.append(FrameError(why, cand))
                del self._buf[:1]

    def reset(self) -> None:
        self._buf.clear()
