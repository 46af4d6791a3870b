"""``Screen.IDLE`` and ``Screen.PIN``: who is at the kiosk — a badge, or the personnel number
and PIN typed on the keypad (the roster counts wrong PINs and locks the number)."""

from __future__ import annotations

import asyncio
import time

from edge_agent.workflow.states import Screen


class IdentifyState:
    """Identification by badge or personnel number + PIN (a part of the Workflow)."""

    async def _identify(self) -> dict | None:
        action, data = await self._input({"badge", "pin_open"}, None)
        t_start = time.perf_counter()
        if action == "badge":
            worker = self.roster.by_badge(data["card_id"])
            if worker is None:
                self.record_event("unknown_badge", "info", ru="Пропуск не найден в списке работников.",
                                  en="Badge not in the roster.", details={"card_id": data["card_id"]})
                await self._message("unknown_badge")
                return None
            worker["_t_identified"] = t_start
            return worker
        prefixes = await asyncio.to_thread(self.roster.number_prefixes)
        self._show(Screen.PIN, error=None, prefixes=prefixes)
        while True:
            try:
                action, data = await self._input({"pin_submit", "cancel", "badge"}, self.input_timeout_s)
            except TimeoutError:
                return None
            if action == "cancel":
                return None
            if action == "badge":
                self.submit("badge", data)
                return None
            worker, status = await asyncio.to_thread(  # PBKDF2 and a durable write: off the loop
                self.roster.check_pin, str(data.get("number", "")), str(data.get("pin", "")),
                max_failures=self.settings.pin_attempts, lock_s=self.settings.pin_lock_min * 60, now=self.clock.now())
            if status == "ok" and worker is not None:
                worker["_t_identified"] = time.perf_counter()
                return worker
            left = None
            if status == "wrong_pin":
                failed = await asyncio.to_thread(self.roster.pin_failures, str(data.get("number", "")))
                left = max(0, self.settings.pin_attempts - failed)
            if status == "locked" or left == 0:  # the last attempt was used: locked from now on
                await self._message("pin_locked", minutes=round(self.settings.pin_lock_min))
                return None
            self._show(Screen.PIN, error=status, attempts_left=left, prefixes=prefixes)
