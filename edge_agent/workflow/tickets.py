"""Short ticket numbers that stand for a worker on the shared kiosk screen.

The screen is seen by everyone in the queue, so it never shows a name (medical secrecy,
323-FZ art. 13): a worker is called back for a re-test by the ticket number they were
shown at the start of their exam (and that is printed on their slip).
"""

from __future__ import annotations


class Tickets:
    """Hands out 1…``size`` in turn, skipping numbers still held by an unfinished exam."""

    def __init__(self, size: int = 99):
        if size < 1:
            raise ValueError("ticket range must hold at least one number")
        self.size = size
        self._last = 0

    def next(self, held: set[int]) -> int:
        """The next free ticket; if all are held (more than ``size`` workers waiting) they repeat."""
        for step in range(1, self.size + 1):
            number = (self._last + step - 1) % self.size + 1
            if number not in held:
                self._last = number
                return number
        self._last = self._last % self.size + 1
        return self._last

    def seen(self, number: int) -> None:
        """A ticket restored from a previous run: continue after it."""
        if 1 <= number <= self.size:
            self._last = max(self._last, number)
