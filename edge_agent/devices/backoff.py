"""Exponential reconnect backoff (pure): 1 s, 2 s, 4 s … capped, reset after a success."""

from __future__ import annotations


class Backoff:
    def __init__(self, initial_s: float, maximum_s: float, factor: float = 2.0) -> None:
        if initial_s <= 0 or maximum_s < initial_s or factor < 1:
            raise ValueError("backoff needs 0 < initial_s <= maximum_s and factor >= 1")
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.factor = factor
        self.failures = 0

    def next(self) -> float:
        """Delay before the next attempt; each call counts one more failure."""
        delay = min(self.maximum_s, self.initial_s * self.factor ** min(self.failures, 64))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
