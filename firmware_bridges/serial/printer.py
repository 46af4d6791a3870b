"""Receipt printer driver: ESC/POS over a serial line (a USB-serial or a pty in simulation).

Each job opens the port (pyserial, in a worker thread: a job is one short blocking write),
optionally asks the printer for its paper sensor status (``DLE EOT 4``, a real-time
command every ESC/POS printer answers with one byte), writes the receipt and closes the
port without hanging up the line — so a printer switched off and on again between workers
just works, and the device supervisor may keep watching the same port. When the supervisor
watches the port it also reads what the printer sends, so the kiosk runtime turns the
status check off (``check_status = false``) and relies on the supervisor's presence check.
A printer that does not answer is reported as :class:`DeviceNotResponding`, one out of
paper as :class:`DeviceReportedError` (``paper_out``), each with Russian and English text.
"""

from __future__ import annotations

import asyncio
import logging
import termios

import serial  # pyserial
from pydantic import BaseModel, ConfigDict, Field

from firmware_bridges.devices import (
    DeviceDisconnected,
    DeviceError,
    DeviceNotResponding,
    DeviceReportedError,
    SerialSettings,
)
from firmware_bridges.serial import escpos

log = logging.getLogger(__name__)

STATUS_PAPER = b"\x10\x04\x04"  # DLE EOT 4: roll paper sensor status
PAPER_END_BITS = 0x60  # bits 5–6: paper roll end detected


class PrinterSettings(BaseModel):
    """The ``[printer]`` table of the kiosk TOML."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    serial: SerialSettings
    model: str = "ESC/POS 58 mm"
    width_chars: int = Field(default=32, ge=16, le=64, description="characters per line (58 mm: 32, 80 mm: 48)")
    codepage: int = Field(default=escpos.CODEPAGE_PC866, ge=0, le=255, description="ESC t n for PC866 (Epson: 17)")
    encoding: str = "cp866"
    status_timeout_s: float = Field(default=1.0, gt=0)
    check_status: bool = Field(default=True, description="ask DLE EOT 4 before each job (off when another reader "
                                                       "watches the port)")


class ReceiptPrinter:
    def __init__(self, settings: PrinterSettings):
        self.settings = settings
        self.printed = 0

    def _open(self):
        s = self.settings.serial
        try:
            ser = serial.serial_for_url(s.port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
                                        stopbits=s.stopbits, timeout=self.settings.status_timeout_s, write_timeout=5)
        except (serial.SerialException, OSError, ValueError) as error:
            raise DeviceNotResponding.for_kind("printer", f"cannot open {s.port}: {error}",
                                               details={"port": s.port}) from error
        try:  # closing our handle must not hang up the line (HUPCL) for anyone else watching the port
            fd = ser.fileno()
            attrs = termios.tcgetattr(fd)
            attrs[2] &= ~termios.HUPCL
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (AttributeError, OSError, termios.error, serial.SerialException) as error:
            log.debug("%s is not a tty (%s): nothing to hang up", s.port, error)
        return ser

    def _job(self, data: bytes) -> None:
        ser = self._open()
        try:
            if self.settings.check_status:
                ser.reset_input_buffer()
                ser.write(STATUS_PAPER)
                answer = ser.read(1)
                if not answer:
                    raise DeviceNotResponding.for_kind("printer", "no answer to DLE EOT 4")
                if answer[0] & PAPER_END_BITS:
                    raise DeviceReportedError(
                        "В принтере закончилась бумага: талон не напечатан. Сообщите дежурному.",
                        "The printer is out of paper: the slip was not printed. Tell the attendant.",
                        code="paper_out", kind="printer", details={"status": answer[0]})
            ser.write(data)
            ser.flush()
        except (serial.SerialException, OSError) as error:
            raise DeviceDisconnected.for_kind("printer", str(error)) from error
        finally:
            ser.close()

    async def print_receipt(self, data: bytes) -> None:
        """Print one receipt; raises a DeviceError subclass when it could not be printed."""
        await asyncio.to_thread(self._job, data)
        self.printed += 1

    async def print_lines(self, title: str, lines: list[str], emphasis: str | None = None) -> None:
        s = self.settings
        await self.print_receipt(escpos.receipt(title, lines, emphasis, codepage=s.codepage, encoding=s.encoding))


__all__ = ["PrinterSettings", "ReceiptPrinter", "DeviceError"]
