"""BerryMed "BCI" oximeter protocol (BM1000 family) — a vendor protocol, not PLX 0x1822.

Transport and layout (devices.md §2; Adafruit ``adafruit_ble_berrymed_pulse_oximeter``
[ADA-BM] citing the vendor's BCI protocol [BCI]; UUIDs from [EHB-BM]):

* service ``49535343-FE7D-4AE5-8FA9-9FAFD205E455`` (ISSC transparent UART), data as
  notifications on ``49535343-1E4D-4BD9-BA61-23C647249616``; the bytes form a stream, so a
  packet may be split across notifications.
* packet = 5 bytes; byte 0 has bit7 = 1 (sync), bytes 1–4 have bit7 = 0:

  ===== ==================================================================================
  byte  bits
  ===== ==================================================================================
  0     bit7 sync; bit6 pulse beep; bit5 probe unplugged; bit4 has-signal; bits0–3 strength
  1     plethysmogram 0–100
  2     bits0–3 bar graph; bit4 no finger; bit5 pulse searching; bit6 = bit 7 of PR
  3     PR bits 0–6 — PR = b3 | (b2 & 0x40) << 1; 255 = invalid
  4     SpO2 0–100; 127 = invalid
  ===== ==================================================================================

Resynchronisation (§2): a byte with bit7 set followed by four bytes with bit7 clear;
everything else is discarded and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridges.ble._common import ReadingBuilder
from firmware_bridges.ble.sfloat import BleDecodeError
from firmware_bridges.readings import Reading

SERVICE_UUID = "49535343-fe7d-4ae5-8fa9-9fafd205e455"
DATA_UUID = "49535343-1e4d-4bd9-ba61-23c647249616"
PACKET_SIZE = 5
PR_INVALID = 255
SPO2_INVALID = 127


@dataclass(frozen=True)
class BerryMedPacket:
    signal_strength: int = 0
    has_signal: bool = False
    probe_unplugged: bool = False
    pulse_beep: bool = False
    pleth: int = 0
    bargraph: int = 0
    no_finger: bool = False
    pulse_searching: bool = False
    pulse_rate: int = PR_INVALID
    spo2: int = SPO2_INVALID

    def encode(self) -> bytes:
        if not (0 <= self.signal_strength <= 15 and 0 <= self.bargraph <= 15):
            raise ValueError("strength and bar graph are 4-bit fields")
        if not (0 <= self.pleth <= 127 and 0 <= self.pulse_rate <= 255 and 0 <= self.spo2 <= 127):
            raise ValueError("pleth 0..127, PR 0..255, SpO2 0..127")
        b0 = 0x80 | (0x40 if self.pulse_beep else 0) | (0x20 if self.probe_unplugged else 0)
        b0 |= (0x10 if self.has_signal else 0) | self.signal_strength
        b2 = self.bargraph | (0x10 if self.no_finger else 0) | (0x20 if self.pulse_searching else 0)
        b2 |= (self.pulse_rate & 0x80) >> 1
        return bytes([b0, self.pleth, b2, self.pulse_rate & 0x7F, self.spo2])


def parse_packet(data: bytes) -> BerryMedPacket:
    """Exactly one 5-byte packet → :class:`BerryMedPacket`; raises only :class:`BleDecodeError`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BleDecodeError(f"BerryMed: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) != PACKET_SIZE:
        raise BleDecodeError(
            f"BerryMed: a packet is 5 bytes, got {len(data)} ({data.hex(' ')}); "
            "for a raw stream use BerryMedFramer"
        )
    if not data[0] & 0x80:
        raise BleDecodeError(f"BerryMed: byte 0 ({data[0]:02x}) lacks the sync bit 0x80 ({data.hex(' ')})")
    bad = [i for i in range(1, 5) if data[i] & 0x80]
    if bad:
        raise BleDecodeError(
            f"BerryMed: byte(s) {bad} have bit 7 set, which only the sync byte may have ({data.hex(' ')})"
        )
    b0, b1, b2, b3, b4 = data
    return BerryMedPacket(
        signal_strength=b0 & 0x0F,
        has_signal=bool(b0 & 0x10),
        probe_unplugged=bool(b0 & 0x20),
        pulse_beep=bool(b0 & 0x40),
        pleth=b1,
        bargraph=b2 & 0x0F,
        no_finger=bool(b2 & 0x10),
        pulse_searching=bool(b2 & 0x20),
        pulse_rate=b3 | ((b2 & 0x40) << 1),
        spo2=b4,
    )


def packet_to_reading(p: BerryMedPacket, raw: bytes) -> Reading:
    b = ReadingBuilder(raw)
    b.device_values.update(spo2=p.spo2, pulse_rate=p.pulse_rate, pleth=p.pleth, bargraph=p.bargraph)
    b.status.update(
        signal_strength=p.signal_strength,
        has_signal=p.has_signal,
        probe_unplugged=p.probe_unplugged,
        no_finger=p.no_finger,
        pulse_searching=p.pulse_searching,
    )
    b.fields["spo2_percent"] = None if p.spo2 == SPO2_INVALID else float(p.spo2)
    b.fields["pulse_bpm"] = None if p.pulse_rate == PR_INVALID else float(p.pulse_rate)
    if p.spo2 == SPO2_INVALID:
        b.invalid["spo2_percent"] = "invalid-code-127"
    if p.pulse_rate == PR_INVALID:
        b.invalid["pulse_bpm"] = "invalid-code-255"
    if p.spo2 != SPO2_INVALID and p.spo2 > 100:
        b.mark_invalid("spo2_percent", f"out-of-range-{p.spo2}")
    for flag, reason in ((p.probe_unplugged, "probe-unplugged"), (p.no_finger, "no-finger"), (p.pulse_searching, "pulse-searching")):
        if flag:
            b.mark_invalid("spo2_percent", reason)
            b.mark_invalid("pulse_bpm", reason)
    return b.build()


def decode_berrymed(data: bytes) -> Reading:
    """Profile ``berrymed``: one 5-byte BCI packet → Reading."""
    return packet_to_reading(parse_packet(data), bytes(data))


class BerryMedFramer:
    """Turns notification chunks into packets, resynchronising on the sync bit (§2)."""

    def __init__(self, max_buffer: int = 64) -> None:
        self._buf = bytearray()
        self.discarded = 0
        self._max = max_buffer

    def feed(self, chunk: bytes) -> list[tuple[BerryMedPacket, bytes]]:
        self._buf += chunk
        out: list[tuple[BerryMedPacket, bytes]] = []
        while True:
            # drop everything before a sync byte
            start = next((i for i, x in enumerate(self._buf) if x & 0x80), None)
            if start is None:
                self.discarded += len(self._buf)
                self._buf.clear()
                break
            if start:
                self.discarded += start
                del self._buf[:start]
            if len(self._buf) < PACKET_SIZE:
                break
            body = self._buf[1:PACKET_SIZE]
            nxt = next((i for i, x in enumerate(body, 1) if x & 0x80), None)
            if nxt is not None:  # a sync byte inside the body: the first one was garbage
                self.discarded += nxt
                del self._buf[:nxt]
                continue
            raw = bytes(self._buf[:PACKET_SIZE])
            del self._buf[:PACKET_SIZE]
            out.append((parse_packet(raw), raw))
        if len(self._buf) > self._max:  # cannot happen with the rules above; a guard all the same
            self.discarded += len(self._buf)
            self._buf.clear()
        return out
