"""The workflow's side of the screen: the view it shows (one :class:`~edge_agent.workflow.states.Screen`
at a time, with a step number), the snapshot the page polls, the taps it lets through
(:mod:`edge_agent.workflow.taps`), the worker's language, footer notices, and waiting for
the worker's input (a tap or a badge) with the timeouts that abandon an exam."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from edge_agent.workflow.session import Abandoned, ExamSession
from edge_agent.workflow.states import Screen
from firmware_bridges.readings import Reading

log = logging.getLogger(__name__)


class ScreenIO:
    """Screen state, snapshot, taps and inputs (a part of :class:`~edge_agent.workflow.machine.Workflow`)."""

    def _show(self, screen: Screen, **data: Any) -> None:
        self.view = {"screen": Screen(screen), **data}
        self.taps.new_screen()
        self.version += 1
        self._changed.set()

    def _show_exam(self, screen: Screen, session: ExamSession, **data: Any) -> None:
        """A screen of the worker's exam: they are known by their ticket, never by name."""
        self._show(screen, ticket=session.ticket, **data)

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()

    def snapshot(self) -> dict[str, Any]:
        """What the screen shows now; countdowns are computed from the injected clock, clock
        times (``…_local``, "HH:MM") in the kiosk's time zone."""
        now = self.clock.now()
        view = dict(self.view)
        for key in ("due_at", "window_closes_at", "until"):
            if isinstance(view.get(key), datetime):
                view[key.replace("_at", "") + "_in_s"] = max(0.0, (view[key] - now).total_seconds())
                view[key.replace("_at", "") + "_local"] = view[key].astimezone(self._tz).strftime("%H:%M")
                view.pop(key)
        view["photo"] = self._photo_wanted()
        view["step"] = self.taps.step  # sent back with each tap (edge_agent.workflow.taps)
        waiting = []
        for session in sorted(self.waiting.values(), key=lambda s: s.due_at or now):
            due_in = max(0.0, ((session.due_at or now) - now).total_seconds())
            waiting.append({"ticket": session.ticket, "due_in_s": round(due_in, 1), "called": due_in <= 0,
                            "window_closes_in_s": None if session.window_closes_at is None else
                            round(max(0.0, (session.window_closes_at - now).total_seconds()), 1)})
        notices = [n for n in self.notices if n["until"] > now]
        self.notices = notices
        health = {}
        try:
            health = self.devices.health()
        except Exception:  # the screen must render even if the supervisor cannot report
            log.exception("device health unavailable")
        return {"version": self.version, "step": self.taps.step, "now": now.isoformat(), "language": self.language,
                "photo_width_px": self.settings.photo.width_px if self.settings.photo.enabled else None,
                "view": view, "waiting": waiting,
                "notices": [{k: v for k, v in n.items() if k not in ("until", "key")} for n in notices],
                "devices": {name: {k: h.get(k) for k in ("kind", "state", "message_ru", "message_en")}
                            for name, h in health.items()}}

    async def wait_change(self, after_version: int, timeout: float) -> None:
        """Return when the view changes after ``after_version`` (or after ``timeout``)."""
        if self.version != after_version:
            return
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    def submit(self, action: str, data: dict | None = None) -> None:
        """An input for the state machine (a badge, or a tap :meth:`tap` let through)."""
        self._inputs.put_nowait((action, dict(data or {})))

    def tap(self, action: str, data: dict) -> None:
        """A tap on the screen: refused (:class:`~edge_agent.workflow.taps.TapRefused`) unless it
        is meant for the screen shown now and that screen has not been answered yet."""
        self.taps.check(action, data, self.view)
        self.submit(action, data)

    def set_language(self, language: str) -> None:
        """The worker's language for the rest of their exam (the screen reads it from the snapshot)."""
        if language not in ("ru", "en"):
            raise ValueError(f"unknown language {language!r}; expected ru or en")
        self.language = language
        self._touch()

    def notice(self, ru: str, en: str, *, seconds: float = 300.0, kind: str = "info", key: str | None = None) -> None:
        """A line in the screen's footer (call-backs, medic decisions) until it expires or is withdrawn."""
        self.notices.append({"ru": ru, "en": en, "kind": kind, "key": key,
                             "until": self.clock.now() + timedelta(seconds=seconds)})
        self._touch()

    def withdraw(self, key: str) -> None:
        self.notices = [n for n in self.notices if n.get("key") != key]
        self._touch()

    async def _badges(self) -> None:
        queue = self.devices.badge_reads()
        while True:
            reading: Reading = await queue.get()
            if reading.card_id:
                self.submit("badge", {"card_id": reading.card_id})

    async def _input(self, expected: set[str], timeout: float | None) -> tuple[str, dict]:
        """The next input of an expected kind; others are dropped (a badge mid-exam, a stale tap)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):  # (not wait_for: on 3.11 it can swallow a cancellation)
                action, data = await self._inputs.get()
            if action in expected:
                return action, data
            log.debug("input %s ignored on screen %s", action, self.view.get("screen"))

    async def _worker_input(self, session: ExamSession, expected: set[str]) -> tuple[str, dict]:
        """Wait for the worker (time counted as worker time); cancel or walking away abandons."""
        t0 = time.perf_counter()
        try:
            action, data = await self._input(expected | {"cancel"}, self.input_timeout_s)
        except TimeoutError:
            raise Abandoned("timeout") from None
        finally:
            session.timings.worker_s += time.perf_counter() - t0
        if action == "cancel":
            raise Abandoned("cancelled")
        return action, data

    async def _message(self, kind: str, seconds: float | None = None, **data: Any) -> None:
        """A message screen that returns to the start after a while or on a tap."""
        self._show(Screen.MESSAGE, kind=kind, **data)
        await self._dismiss(seconds or self.settings.message_screen_s)

    async def _dismiss(self, seconds: float, *, hold_badge: bool = False) -> None:
        """Keep the current screen until a tap, a badge (handled next: the next worker may badge
        in while it shows) or ``seconds``. ``hold_badge``: the screen is its owner's only copy
        (a result whose slip did not print) — a badge waits until the owner's tap or ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        held: dict | None = None
        while True:
            try:
                action, data = await self._input({"ok", "badge"}, max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
            if action == "badge":
                held = data
                if hold_badge:
                    continue
            break
        if held is not None:
            self.submit("badge", held)
