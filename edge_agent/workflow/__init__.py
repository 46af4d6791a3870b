"""The kiosk's exam workflow (issue 5): the asyncio state machine in ``machine``, whose named
states (``states.Screen``) the screen shares, each state's work in a unit of its own
(``identify``, ``intake``, ``measure``, ``retest``, ``finish``, ``camera``, ``restore``, the
view and taps in ``screen``); pure parts: planning in ``plan``, the exam in ``session``, the
tap guard in ``taps``, tickets in ``tickets``, identity photos in ``photos``, the slip in
``slip``, the injectable clock in ``clock``."""

from .clock import Clock, ManualClock, SystemClock
from .machine import ExamSession, Workflow
from .settings import ScreenSettings, SurveyQuestion, WorkflowSettings

__all__ = [
           "Clock",
           "ExamSession",
           "ManualClock",
           "ScreenSettings",
           "SurveyQuestion",
           "SystemClock",
           "Workflow",
           "WorkflowSettings",
]
