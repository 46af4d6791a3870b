"""Routes of the kiosk screen.

``GET /`` the page; ``GET /static/…`` its CSS/JS (served from the package, nothing from
the network; a Content-Security-Policy keeps the page on this origin); ``GET /screens.js``
the workflow's state names (``edge_agent.workflow.states.Screen``) for the page;
``GET /api/state`` what to show now (the workflow's snapshot: screen, its step number,
countdowns from the workflow's clock, device health, notices, the language);
``POST /api/action`` a tap (``{"action": "answer", "value": true, "question": "slept_enough",
"step": 12}``), refused with 409 when it is not meant for the screen shown now or that screen
was answered already (``edge_agent.workflow.taps``); ``POST /api/photo`` a still from the
kiosk camera (``edge_agent.workflow.photos``) or the reason the camera could not be used.
All run on the event loop of the workflow (``async def``), so they never race it. Unknown
actions are refused with 422 and a reason; nothing a browser sends can crash the workflow.
The kiosk status (outbox depth) reads the journal, whose lock a durable write can hold for a
while: it is read off the loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.workflow.photos import PhotoRefused
from edge_agent.workflow.states import PhotoStage, Screen
from edge_agent.workflow.taps import TapRefused
from firmware_bridges.contract import MAX_PHOTO_BYTES

STATIC = Path(__file__).parent / "static"

ACTIONS = {"badge", "pin_open", "pin_submit", "cancel", "ok", "consent_accept", "consent_decline", "exam_type",
           "answer", "fatigue_answer", "language"}
#: The page loads nothing from another origin; the camera stream stays in the page.
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
       "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=32)
    value: bool | None = None
    exam_type: str | None = Field(default=None, max_length=32)
    number: str | None = Field(default=None, max_length=64)
    pin: str | None = Field(default=None, max_length=16)
    card_id: str | None = Field(default=None, max_length=64)
    question: str | None = Field(default=None, max_length=40, description="the survey question answered")
    item: str | None = Field(default=None, max_length=40, description="the screening item answered")
    points: int | None = Field(default=None, ge=0, le=100, description="the screening answer's value")
    step: int | None = Field(default=None, ge=0, description="the screen's step the tap was made on")
    language: Literal["ru", "en"] | None = None


class Photo(BaseModel):
    """A still from the kiosk camera, or why the page could not take one."""

    model_config = ConfigDict(extra="forbid")

    stage: PhotoStage
    jpeg_b64: str | None = Field(default=None, max_length=(MAX_PHOTO_BYTES + 2) // 3 * 4)
    error: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> Photo:
        if (self.jpeg_b64 is None) == (self.error is None):
            raise ValueError("send either jpeg_b64 or error")
        return self


def screens_js() -> str:
    """The workflow's state names as the page's constants (one source: the Screen enum)."""
    names = {s.name: s.value for s in Screen}
    return f"window.KIOSK_SCREENS = Object.freeze({json.dumps(names)});\n"


def create_app(workflow: Any, *, allow_badge_entry: bool = False, status: Any = None) -> FastAPI:
    """The screen's app for one workflow. ``allow_badge_entry`` lets the page post a badge
    (only for the one-machine demo without a reader); ``status`` adds kiosk status (outbox)."""
    app = FastAPI(title="Kiosk screen", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    screens = screens_js()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store",
                                                             "Content-Security-Policy": CSP})

    @app.get("/screens.js", include_in_schema=False)
    def screen_names() -> Response:
        return Response(screens, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/api/state")
    async def state() -> JSONResponse:
        snap = workflow.snapshot()
        if status is not None:
            try:
                snap["kiosk"] = await asyncio.to_thread(status)
            except Exception as error:  # the screen must render even if the status source fails
                snap["kiosk"] = {"error": str(error)}
        return JSONResponse(snap, headers={"Cache-Control": "no-store"})

    @app.post("/api/action")
    async def action(body: Action) -> dict:
        if body.action not in ACTIONS or (body.action == "badge" and not allow_badge_entry):
            raise HTTPException(422, f"unknown action {body.action!r}")
        if body.action == "language":
            if body.language is None:
                raise HTTPException(422, "the language action needs language: ru or en")
            workflow.set_language(body.language)
            return {"accepted": body.action, "language": body.language}
        data = body.model_dump(exclude_none=True, exclude={"action"})
        try:
            workflow.tap(body.action, data)
        except TapRefused as refused:
            raise HTTPException(refused.status, refused.reason) from None
        return {"accepted": body.action}

    @app.post("/api/photo")
    async def photo(body: Photo) -> dict:
        if body.error is not None:
            workflow.camera_failed(body.error)
            return {"recorded": "camera_error"}
        try:
            return {"accepted": workflow.add_photo(body.stage, body.jpeg_b64)}
        except PhotoRefused as refused:
            raise HTTPException(422, str(refused)) from None

    return app
