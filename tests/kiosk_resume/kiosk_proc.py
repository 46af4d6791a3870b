"""A whole kiosk (``tests/kiosk_ui/kiosk_world.py``: the real runtime, simulated devices on
their real protocols) in a process of its own, for the test that kills it with SIGKILL.

    python -m tests.kiosk_resume.kiosk_proc TMP BROKER_HOST BROKER_PORT

Ivanov taps his badge, answers the survey and blows 0.45 mg/L; once he is sent to the
confirmation test the process prints ``RETEST <exam id>`` and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.kiosk_ui.kiosk_world import IVANOV, kiosk_world

ONE_EXAM_TYPE = {"exam_types": ["pre_shift"]}


async def first_breath(world) -> str:
    """Ivanov's first pass: badge, survey (no complaints), measurements; sent to the re-test."""
    world.present(IVANOV.card)
    for i, value in enumerate((True, False, False)):
        view = await world.wait_screen("survey", 30)
        while view.get("index") != i:
            await asyncio.sleep(0.02)
            view = world.workflow.view
        world.workflow.submit("answer", {"value": value, "question": view["question"]["id"]})
    await world.wait_screen("retest_wait", 60)
    return world.workflow.waiting[IVANOV.number].exam_id


async def main(tmp: Path, host: str, port: int) -> None:
    broker = SimpleNamespace(host=host, port=port)
    async with kiosk_world(tmp, broker, intoxicated=True, brac=[0.45], consent=True, hub=False,
                           workflow=ONE_EXAM_TYPE) as world:
        exam_id = await first_breath(world)
        print(f"RETEST {exam_id}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
