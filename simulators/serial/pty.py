"""A real pseudo-terminal for a simulated serial device (devices.md §8.2/§8.3).

The simulator owns the master side; the bridge opens ``path`` (the slave, or a symlink
``link`` to it) like any serial port. Both ends are raw (§8.3 gotcha 2). The simulator
keeps a slave descriptor open so that writes are buffered even while no bridge is
attached; ``close()`` closes both ends, which the bridge sees as a hang-up (EIO) —
that is the "disconnect" fault. A pty ignores baud rate: timing comes from the simulator.
"""

from __future__ import annotations

import asyncio
import errno
import os
import tty


class PtyPort:
    def __init__(self, link: str | None = None) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self._slave)
        self.link = link
        if link:
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(self.slave_path, link)
        self.path = link or self.slave_path
        self._buf = bytearray()
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.dropped = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._buf.extend(data)
        self._event.set()

    async def read(self) -> bytes:
        """Bytes the bridge wrote (waits until there are some)."""
        while not self._buf:
            if self.closed:
                return b""
            self._event.clear()
            await self._event.wait()
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def write(self, data: bytes) -> None:
        """Write to the bridge; bytes that do not fit the pty buffer are dropped, like a UART
        with nobody listening."""
        if self.closed:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                self.dropped += len(view)
                return
            except OSError as e:
                if e.errno in (errno.EIO, errno.EBADF):
                    return
                raise

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            try:
                self._loop.remove_reader(self.master)
            except Exception:
                pass
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.link and os.path.islink(self.link):
            try:
                os.unlink(self.link)
            except OSError:
                pass
        self._event.set()

    def __enter__(self) -> "PtyPort":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
