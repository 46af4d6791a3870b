"""The kiosk's exam workflow (issue 5): pure planning in ``plan``, the asyncio state machine
in ``machine``, the slip in ``slip``, the injectable clock in ``clock``."""

from .clock import Clock, ManualClock, SystemClock
from .machine import ExamSession, Workflow
from .settings import ScreenSettings, SurveyQuestion, WorkflowSettings

__all__ = ["Clock", "ManualClock", "SystemClock", "ExamSession", "Workflow", "ScreenSettings", "SurveyQuestion",
           "WorkflowSettings"]
