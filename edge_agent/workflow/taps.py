"""One tap per screen: the guard between the screen's taps and the workflow.

Every screen the workflow shows gets a new step number (``Workflow.step``, in the
snapshot); the page sends it with each tap. A tap for a screen that is no longer shown, or a
second tap on a screen already answered (a double tap, a fast repeat), is refused with the
reason, so a tap meant for one survey question can never answer the next one. An answer must
also name the question it answers, and that must be the question on screen (a fatigue
screening answer: the item on screen, and a value of its scale).
"""

from __future__ import annotations

from typing import Any

#: Taps that may repeat on the same screen (the PIN form is re-submitted after a wrong PIN on
#: a new step anyway; cancel stays possible after a refused tap).
REPEATABLE = frozenset({"cancel"})


class TapRefused(Exception):
    """A tap the workflow must not act on; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 409):
        super().__init__(reason)
        self.reason, self.status = reason, status


class TapGuard:
    """Tracks the step on screen and the steps already acted on."""

    def __init__(self) -> None:
        self.step = 0
        self._claimed: set[str] = set()

    def new_screen(self) -> int:
        self.step += 1
        self._claimed = set()
        return self.step

    def check(self, action: str, data: dict[str, Any], view: dict[str, Any]) -> None:
        """Raise TapRefused unless ``action`` is meant for the screen shown now; claim the step."""
        step = data.get("step")
        if action == "answer":
            if step is None or data.get("question") is None:
                raise TapRefused("an answer must carry the step and the question id it answers", 422)
            question = (view.get("question") or {}).get("id")
            if view.get("screen") != "survey" or data["question"] != question:
                raise TapRefused(f"question {data['question']!r} is not on screen")
        if action == "fatigue_answer":
            _check_fatigue(data, view)
        if step is None:
            return
        if step != self.step:
            raise TapRefused(f"step {step} is no longer on screen (now {self.step})")
        kind = "repeatable:" + action if action in REPEATABLE else "advance"
        if kind in self._claimed:
            raise TapRefused(f"step {step} was already answered")
        self._claimed.add(kind)


def _check_fatigue(data: dict[str, Any], view: dict[str, Any]) -> None:
    """A screening answer names the item on screen and a value on that item's scale."""
    if data.get("step") is None or data.get("item") is None or data.get("points") is None:
        raise TapRefused("a screening answer must carry the step, the item id and the points", 422)
    item = view.get("item") or {}
    if view.get("screen") != "fatigue" or data["item"] != item.get("id"):
        raise TapRefused(f"item {data['item']!r} is not on screen")
    if data["points"] not in [s["value"] for s in item.get("scale", [])]:
        raise TapRefused(f"{data['points']!r} is not an answer of item {data['item']!r}", 422)
