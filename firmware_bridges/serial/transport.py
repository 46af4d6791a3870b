"""Async serial transport over pyserial, without pyserial-asyncio.

POSIX ports (real ttys, ptys) are opened non-blocking and watched with
``loop.add_reader`` on their file descriptor — no thread per port, and cancellation is
immediate. Ports with no usable descriptor (pyserial URLs such as ``loop://``) fall back
to short blocking reads in the default thread executor.

Errors are mapped to the device-error hierarchy: cannot open → DeviceNotResponding; a
read/write error or hang-up (EIO on a pty whose master closed, USB adapter unplugged) →
DeviceDisconnected. ``read()`` raises ``TimeoutError`` on silence; drivers translate it.
"""

from __future__ import annotations

import asyncio
import logging
import os

import serial  # pyserial

from firmware_bridges.devices import DeviceDisconnected, DeviceNotResponding, SerialSettings

log = logging.getLogger(__name__)


class SerialTransport:
    def __init__(self, settings: SerialSettings, kind: str | None = None) -> None:
        self.settings = settings
        self.kind = kind
        self._ser: serial.SerialBase | None = None
        self._fd: int | None = None
        self._buf = bytearray()
        self._error: BaseException | None = None
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: failures that do not stop the port but must be visible (logged with the port, and counted)
        self.stats: dict[str, int] = {"close_errors": 0}

    # -- lifecycle
    async def open(self) -> "SerialTransport":
        s = self.settings
        self._loop = asyncio.get_running_loop()
        try:
            ser = serial.serial_for_url(
                s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=0,
                write_timeout=2,
                do_not_open=False,
            )
        except (serial.SerialException, OSError, ValueError) as e:
            raise DeviceNotResponding.for_kind(self.kind, f"cannot open {s.port}: {e}", details={"port": s.port}) from e
        self._ser = ser
        fd = None
        try:
            fd = ser.fileno()
        except (AttributeError, OSError, ValueError, serial.SerialException) as e:
            log.debug("%s has no file descriptor (%s: %s): reading it in the executor", s.port, type(e).__name__, e)
        if isinstance(fd, int) and fd >= 0:
            self._fd = fd
            self._loop.add_reader(fd, self._on_readable)
        else:
            ser.timeout = 0.05
        return self

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0 and self._loop is not None:
            try:
                self._loop.remove_reader(self._fd)
            except Exception as e:  # cleanup must not raise over the error that led here
                self._close_failed("stop watching", e)
        self._fd = None
        if self._ser is not None:
            try:
                self._ser.close()
            except Exception as e:  # cleanup must not raise over the error that led here
                self._close_failed("close", e)
        self._ser = None

    def _close_failed(self, what: str, error: BaseException) -> None:
        self.stats["close_errors"] += 1
        log.warning("%s (%s): %s failed: %s: %s", self.settings.port, self.kind or "serial", what,
                    type(error).__name__, error)

    async def __aenter__(self) -> "SerialTransport":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    # -- reading
    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)  # type: ignore[arg-type]
        except BlockingIOError:
            return
        except OSError as e:
            data = b""
            self._error = e
        if not data:
            self._error = self._error or EOFError("end of file")
            if self._fd is not None and self._loop is not None:
                self._loop.remove_reader(self._fd)
                self._fd = -1
        else:
            self._buf.extend(data)
        self._event.set()

    def _disconnected(self, why: BaseException | str) -> DeviceDisconnected:
        return DeviceDisconnected.for_kind(self.kind, f"{self.settings.port}: {why}", details={"port": self.settings.port})

    async def read(self, timeout: float | None = None) -> bytes:
        """Whatever bytes are available (at least one); TimeoutError after ``timeout`` s of silence."""
        if self._ser is None:
            raise self._disconnected("port is closed")
        if self._fd is None:  # executor fallback
            return await self._read_polling(timeout)
        while not self._buf:
            if self._error is not None:
                raise self._disconnected(self._error)
            self._event.clear()
            if timeout is None:
                await self._event.wait()
            else:
                await asyncio.wait_for(self._event.wait(), timeout)
        data = bytes(self._buf)
        self._buf.clear()
        return data

    async def _read_polling(self, timeout: float | None) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        ser = self._ser
        while True:
            try:
                data = await loop.run_in_executor(None, ser.read, 4096)
            except (serial.SerialException, OSError) as e:
                raise self._disconnected(e) from e
            if data:
                return data
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError

    async def write(self, data: bytes) -> None:
        if self._ser is None:
            raise self._disconnected("port is closed")
        if self._error is not None:
            raise self._disconnected(self._error)
        try:
            if self._fd is not None and self._fd >= 0:
                view = memoryview(data)
                while view:
                    try:
                        n = os.write(self._fd, view)
                        view = view[n:]
                    except BlockingIOError:
                        await asyncio.sleep(0.001)
            else:
                ser = self._ser
                await asyncio.get_running_loop().run_in_executor(None, ser.write, data)
        except (serial.SerialException, OSError) as e:
            raise self._disconnected(e) from e

    def discard_input(self) -> None:
        self._buf.clear()
