"""Routes of the kiosk screen.

``GET /`` the page; ``GET /static/…`` its CSS/JS (served from the package, nothing from
the network); ``GET /api/state`` what to show now (the workflow's snapshot: screen,
countdowns from the workflow's clock, device health, notices); ``POST /api/action`` a tap
(``{"action": "answer", "value": true}``). Both run on the event loop of the workflow
(``async def``), so they never race it. Unknown actions are refused with 422 and a
reason; nothing a browser sends can crash the workflow. The kiosk status (outbox depth)
reads the journal, whose lock a durable write can hold for a while: it is read off the loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

STATIC = Path(__file__).parent / "static"

ACTIONS = {"badge", "pin_open", "pin_submit", "cancel", "ok", "consent_accept", "consent_decline", "exam_type",
           "answer"}


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=32)
    value: bool | None = None
    exam_type: str | None = Field(default=None, max_length=32)
    number: str | None = Field(default=None, max_length=64)
    pin: str | None = Field(default=None, max_length=16)
    card_id: str | None = Field(default=None, max_length=64)


def create_app(workflow: Any, *, language: str = "ru", allow_badge_entry: bool = False,
               status: Any = None) -> FastAPI:
    """The screen's app for one workflow. ``allow_badge_entry`` lets the page post a badge
    (only for the one-machine demo without a reader); ``status`` adds kiosk status (outbox)."""
    app = FastAPI(title="Kiosk screen", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/state")
    async def state() -> JSONResponse:
        snap = workflow.snapshot()
        snap["language"] = language
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
        data = body.model_dump(exclude_none=True, exclude={"action"})
        workflow.submit(body.action, data)
        return {"accepted": body.action}

    return app
