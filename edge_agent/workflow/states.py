"""The named states of the kiosk workflow, shared with the screen.

The workflow shows exactly one :class:`Screen` at a time (``Workflow.view["screen"]``); the
page gets the same names from ``GET /screens.js`` (generated from this enum by
``edge_agent.ui.app``), so a state the page does not know cannot exist on one side only.
"""

from __future__ import annotations

from enum import StrEnum


class Screen(StrEnum):
    """What the kiosk is doing, as the worker sees it."""

    IDLE = "idle"  # waiting for a badge (and calling back workers due for a re-test)
    PIN = "pin"  # sign-in by personnel number and PIN
    CONSENT = "consent"  # first use: consent to the automated exam (ПП 866)
    EXAM_TYPE = "exam_type"  # choose the kind of exam
    SURVEY = "survey"  # one complaints question per screen (266н)
    FATIGUE = "fatigue"  # optional fatigue / stress screening, one item per screen (seed 002 B.3.3.5)
    MEASURING = "measuring"  # the devices of a round, live progress
    REMEASURE = "remeasure"  # a reading did not work: explained, then measured again
    RETEST_WAIT = "retest_wait"  # step aside until the scheduled re-test
    RESULT = "result"  # the pre-decision and the slip
    MESSAGE = "message"  # an error or refusal that returns to idle


class PhotoStage(StrEnum):
    """When the kiosk camera takes the worker's identity photo (ПАК kiosk practice)."""

    IDENTIFICATION = "identification"
    BREATH = "breath"
