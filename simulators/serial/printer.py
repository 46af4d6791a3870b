"""Simulated ESC/POS receipt printer on a pty: captures and decodes what was printed.

The kiosk's printer driver opens the pty like a serial port. The simulator answers the
real-time status request ``DLE EOT n`` (one status byte; paper end when ``paper = False``)
and collects everything else; each paper cut (``GS V``) closes a job, decoded with
:func:`firmware_bridges.serial.escpos.decode` into ``jobs`` (``lines``, ``large_lines``,
``bold_lines``, ``codepages``) — tests assert the slip's content there.

Standalone: ``python -m simulators.serial.printer --link /tmp/ohs-printer`` prints every
slip to stdout as it would appear on paper.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from firmware_bridges.serial import escpos
from simulators.serial.pty import PtyPort

DLE_EOT = b"\x10\x04"
STATUS_OK = 0x12  # fixed bits 1 and 4 set, nothing wrong
PAPER_END = 0x60


class PrinterSim:
    def __init__(self, port: PtyPort, *, paper: bool = True, silent: bool = False):
        self.port = port
        self.paper = paper
        self.silent = silent  # a printer that is switched off: answers nothing, prints nothing
        self.jobs: list[dict] = []
        self.errors: list[str] = []
        self.raw = bytearray()
        self._pending = bytearray()
        self._job_event = asyncio.Event()

    async def run(self) -> None:
        self.port.start()
        while not self.port.closed:
            data = await self.port.read()
            if not data:
                return
            if self.silent:
                continue
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._pending += data
        while True:
            at = self._pending.find(DLE_EOT)
            if at < 0 or at + 2 >= len(self._pending):
                break
            n = self._pending[at + 2]
            del self._pending[at : at + 3]
            self.port.write(bytes([STATUS_OK | (PAPER_END if n == 4 and not self.paper else 0)]))
        while True:
            cut = self._find_cut()
            if cut < 0:
                break
            job, self._pending = bytes(self._pending[:cut]), self._pending[cut:]
            self.raw += job
            try:
                self.jobs.append(escpos.decode(job))
            except escpos.EscPosDecodeError as error:
                self.errors.append(str(error))
            self._job_event.set()

    def _find_cut(self) -> int:
        at = self._pending.find(escpos.GS + b"V")
        if at < 0 or at + 2 >= len(self._pending):
            return -1
        n = 4 if self._pending[at + 2] in (65, 66) else 3
        return at + n if at + n <= len(self._pending) else -1

    async def wait_jobs(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Wait until ``count`` jobs were printed (TimeoutError otherwise)."""
        async def until() -> None:
            while len(self.jobs) < count:
                self._job_event.clear()
                await self._job_event.wait()
        await asyncio.wait_for(until(), timeout)
        return self.jobs


def render(job: dict) -> str:
    return "\n".join(job["lines"])


async def _main(args: argparse.Namespace) -> None:
    port = PtyPort(args.link)
    sim = PrinterSim(port, paper=not args.no_paper)
    print(f"printer simulator on {port.path}", flush=True)
    task = asyncio.create_task(sim.run())
    shown = 0
    try:
        while True:
            await sim.wait_jobs(shown + 1, timeout=3600 * 24)
            for job in sim.jobs[shown:]:
                print("=" * 32 + "\n" + render(job) + "\n" + "=" * 32, flush=True)
            shown = len(sim.jobs)
    finally:
        port.close()
        task.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.serial.printer", description=__doc__.splitlines()[0])
    parser.add_argument("--link", default=None, help="symlink to create for the pty (the kiosk's printer port)")
    parser.add_argument("--no-paper", action="store_true", help="report paper end")
    try:
        asyncio.run(_main(parser.parse_args(argv)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
