"""Per-kiosk sets of stored sequence numbers, kept as merged ranges, and the acks built from them."""

from __future__ import annotations

import bisect
from datetime import datetime, timezone

from firmware_bridges.contract import Ack


class SequenceRanges:
    """Sorted, non-overlapping, non-adjacent inclusive ranges of integers."""

    def __init__(self, ranges: list[tuple[int, int]] | None = None):
        self.ranges: list[list[int]] = [list(r) for r in (ranges or [])]

    def add(self, seq: int) -> None:
        ranges = self.ranges
        index = bisect.bisect_left(ranges, [seq + 1]) - 1  # last range starting at or before seq
        if index >= 0 and ranges[index][0] <= seq <= ranges[index][1]:
            return
        joins_left = index >= 0 and ranges[index][1] == seq - 1
        joins_right = index + 1 < len(ranges) and ranges[index + 1][0] == seq + 1
        if joins_left and joins_right:
            ranges[index][1] = ranges[index + 1][1]
            del ranges[index + 1]
        elif joins_left:
            ranges[index][1] = seq
        elif joins_right:
            ranges[index + 1][0] = seq
        else:
            ranges.insert(index + 1, [seq, seq])

    def discard(self, seq: int) -> None:
        """Remove one sequence (a contested one is acknowledged only by event id)."""
        index = bisect.bisect_left(self.ranges, [seq + 1]) - 1
        if index < 0 or not self.ranges[index][0] <= seq <= self.ranges[index][1]:
            return
        first, last = self.ranges[index]
        pieces = [[a, b] for a, b in ((first, seq - 1), (seq + 1, last)) if a <= b]
        self.ranges[index:index + 1] = pieces

    def __contains__(self, seq: int) -> bool:
        index = bisect.bisect_left(self.ranges, [seq + 1]) - 1
        return index >= 0 and self.ranges[index][0] <= seq <= self.ranges[index][1]

    @property
    def through(self) -> int:
        """Every sequence from 1 to this one is present (0 when 1 is missing)."""
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 1 else 0

    def gaps(self) -> list[tuple[int, int]]:
        result, expected = [], 1
        for first, last in self.ranges:
            if first > expected:
                result.append((expected, first - 1))
            expected = last + 1
        return result

    def ack(self, site: str, kiosk: str, max_ranges: int = 64, *, incarnation: str | None = None,
            contested: dict[int, list[str]] | None = None, confirmed: dict[int, str] | None = None) -> Ack:
        """The ack for these ranges; ``contested`` sequences (kept out of the ranges) are listed
        with the event ids the hub holds for them."""
        through = self.through
        above = [tuple(r) for r in (self.ranges[1:] if through else self.ranges)]
        return Ack(
            site=site,
            kiosk=kiosk,
            incarnation=incarnation or None,
            through_seq=through,
            ranges=above[-max_ranges:],
            gaps=self.gaps()[-max_ranges:],
            contested=contested or {},
            confirmed=confirmed,
            ts=datetime.now(timezone.utc),
        )
