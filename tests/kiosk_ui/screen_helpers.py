"""Playwright helpers for the kiosk screen tests: a Chromium page on the kiosk (fake camera
allowed), screenshots at both kiosk resolutions with a layout check on each (nothing clipped,
nothing scrolls, touch targets ≥ 48 px, labels fit), and the rule that the page requests
nothing outside the kiosk's own origin."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import expect

from hub.db.exam_body import decode_body
from tests.kiosk_ui.kiosk_world import CHROMIUM, CHROMIUM_ARGS

SIZES = {"800x480": (800, 480), "1280x800": (1280, 800)}
TOUCH_PX = 48
DEBOUNCE_MS = 400  # longer than the page's tap debounce (kiosk.js DEBOUNCE_MS)
CYRILLIC = re.compile(r"[\u0400-\u04FF]")

#: Everything on screen inside the viewport, no scrolling, buttons ≥ 48 px with their label inside.
LAYOUT_JS = """(touch) => {
  const vw = window.innerWidth, vh = window.innerHeight, bad = [];
  const main = document.getElementById("screen"), root = document.documentElement;
  if (main.scrollHeight > main.clientHeight + 1) bad.push(`main scrolls: ${main.scrollHeight} > ${main.clientHeight}`);
  if (main.scrollWidth > main.clientWidth + 1) bad.push(`main scrolls sideways: ${main.scrollWidth} > ${main.clientWidth}`);
  if (root.scrollHeight > vh + 1 || root.scrollWidth > vw + 1) bad.push(`page scrolls: ${root.scrollWidth}x${root.scrollHeight}`);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && el.className.baseVal === undefined ? "." + el.className : "")
    + " «" + (el.textContent || "").trim().slice(0, 30) + "»";
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("[hidden]") || el.tagName === "SCRIPT") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5)
      bad.push(`outside the viewport: ${name(el)} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)}`);
  }
  for (const b of document.querySelectorAll("button")) {
    const r = b.getBoundingClientRect();
    if (r.width < touch || r.height < touch) bad.push(`touch target under ${touch} px: ${name(b)} ${Math.round(r.width)}x${Math.round(r.height)}`);
    if (b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1) bad.push(`label does not fit: ${name(b)}`);
  }
  return bad;
}"""


def offsite(requests: list[str], origin_url: str) -> list[str]:
    """Requests that left the kiosk's own origin (scheme, host and port of ``origin_url``)."""
    own = urlsplit(origin_url)
    return [u for u in requests if (urlsplit(u).scheme, urlsplit(u).netloc) != (own.scheme, own.netloc)]


class Screen:
    """One Chromium page on the kiosk screen, with screenshots at both kiosk resolutions."""

    def __init__(self, page, artifacts: Path, test: str, sizes: dict | None = None):
        self.page, self.dir, self.test = page, artifacts / "kiosk-screen", test
        self.sizes = sizes or SIZES
        self.home = (1280, 800)
        self._last_action = 0.0
        self.dir.mkdir(parents=True, exist_ok=True)

    async def layout_problems(self) -> list[str]:
        return await self.page.evaluate(LAYOUT_JS, TOUCH_PX)

    async def shot(self, name: str) -> None:
        """Screenshots at 800×480 and 1280×800; fails if the screen does not fit at either."""
        for label, (w, h) in self.sizes.items():
            await self.page.set_viewport_size({"width": w, "height": h})
            await self.page.wait_for_timeout(80)
            await self.page.screenshot(path=str(self.dir / f"{self.test}-{name}-{label}.png"))
            problems = await self.layout_problems()
            assert not problems, f"{name} at {label}: " + "; ".join(problems[:6])
        await self.page.set_viewport_size({"width": self.home[0], "height": self.home[1]})

    async def text(self) -> str:
        return await self.page.evaluate("document.body.innerText")

    async def no_russian(self, what: str) -> None:
        """No Cyrillic on an English screen (the language switch names «Русский», as it must)."""
        text = await self.page.evaluate(
            "['title', 'devices', 'screen', 'bottom'].map((id) => document.getElementById(id).innerText).join('\\n')")
        found = sorted(set(CYRILLIC.findall(text)))
        assert not found, f"Russian on the English {what} screen ({''.join(found)}):\n{text}"

    async def tap(self, name: str) -> None:
        """Tap a button as a person does: an action on a new screen not faster than the page's
        debounce after the previous one (keypad keys at once)."""
        button = self.page.get_by_role("button", name=name, exact=True)
        action = await button.get_attribute("data-action") is not None
        if action:
            wait = self._last_action + DEBOUNCE_MS / 1000 - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
        await button.click()
        if action:  # counted from when the click has landed
            self._last_action = asyncio.get_running_loop().time()

    async def on(self, screen: str, timeout: float = 20_000) -> None:
        await expect(self.page.locator("#screen")).to_have_attribute("data-screen", screen, timeout=timeout)

    async def answer_survey(self, answers: list[str]) -> None:
        for i, answer in enumerate(answers):
            await expect(self.page.locator(".step")).to_contain_text(f"Вопрос {i + 1} из {len(answers)}")
            await self.tap(answer)


@contextlib.asynccontextmanager
async def kiosk_page(p, world, artifacts: Path, test: str, *, size: tuple[int, int] = (1280, 800)) -> AsyncIterator[Screen]:
    """A Chromium page on ``world``'s kiosk screen; on leaving, fails if the page requested
    anything outside the kiosk's origin."""
    browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        page = await browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.set_default_timeout(15_000)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        screen = Screen(page, artifacts, test)
        screen.home = size
        await page.goto(world.url)
        yield screen
        assert requests, "the page made no requests"
        assert offsite(requests, world.url) == [], f"the screen requested outside its origin: {offsite(requests, world.url)}"
    finally:
        await browser.close()


async def hub_exam(world, timeout: float = 15.0) -> dict:
    """The exam as the hub stored it (waits for the kiosk's outbox to drain)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = world.hub.store.query("SELECT body_z, outcome, chain_status FROM exams ORDER BY seq DESC")
        if rows and world.runtime.agent.journal.outbox_depth() == 0:
            row = rows[0]
            return {**decode_body(row["body_z"]), "_chain_status": row["chain_status"]}
        if loop.time() > deadline:
            raise AssertionError(f"no exam at the hub after {timeout} s; outbox {world.runtime.agent.journal.outbox_depth()}")
        await asyncio.sleep(0.1)


def slip_text(world) -> str:
    assert world.printer.jobs, "nothing was printed"
    assert world.printer.jobs[-1]["codepages"] == [17], "the slip must select PC866 (ESC t 17)"
    return "\n".join(world.printer.jobs[-1]["lines"])
