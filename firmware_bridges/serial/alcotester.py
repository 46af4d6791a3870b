"""Breathalyzer line protocol codec (devices.md §3.4 — OUR design, not a vendor format).

NMEA-0183 style ASCII lines: ``$`` + body + ``*`` + two hex digits of the XOR of every
body byte + CR LF; fields are comma-separated; 9600 8N1 or USB CDC.

::

    host → dev  $ALREQ,<seq>,TEST,<subject-ref>*hh      (also STAT, ABORT, TIME,<utc>)
    dev → host  $ALACK,<seq>,OK*hh | $ALACK,<seq>,ERR,<code>*hh
    dev → host  $ALEVT,<seq>,<test_id>,<WARMUP,<s>|BLOW|BLOW_PROGRESS,<%>|ANALYZING>*hh
    dev → host  $ALRES,<seq>,<test_id>,<utc>,<brac 3dp>,MGL,<vol_l>,<dur_s>,<breath_temp_c>,<serial>,<cal_due>*hh
    dev → host  $ALERR,<seq>,<test_id>,<Exx>,<NAME>[,<vol_l>,<dur_s>]*hh

Error codes E01–E10 are from §3.4. **E11 NOT_READY** is our extension (device warming
up / busy; sent in ``$ALACK,<seq>,ERR,E11``) because the issue asks for "not ready" and
§3.4 has no code for it.

Everything here is pure: bytes in, dataclasses / :class:`Reading` out, and the only
exception raised on bad input is :class:`DecodeError`.

Units (devices.md §3.2 and finding 10): the stored value is **mg/L of exhaled air**; ‰ is
a display conversion that is always recorded together with its blood:breath ratio —
2000:1 → ‰ = mg/L × 2.0, 2100:1 → ‰ = mg/L × 2.1 (and %BAC = mg/L × 0.21).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from firmware_bridges.readings import DecodeError, Reading

#: devices.md §3.4 error codes (+ E11, our extension).
ERROR_CODES: dict[str, str] = {
    "E01": "INSUFFICIENT_VOLUME",
    "E02": "BLOW_INTERRUPTED",
    "E03": "FLOW_OUT_OF_RANGE",
    "E04": "TEMP_OUT_OF_RANGE",
    "E05": "SENSOR_FAULT",
    "E06": "CALIBRATION_OVERDUE",
    "E07": "NO_BLOW_TIMEOUT",
    "E08": "MOUTH_ALCOHOL_SUSPECTED",
    "E09": "LOW_BATTERY",
    "E10": "ABORTED",
    "E11": "NOT_READY",
}

#: Human messages (ru, en) per error code, for DeviceReportedError.
ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    "E01": ("Недостаточный объём выдоха: сделайте ровный выдох до сигнала", "Insufficient breath volume: blow steadily until the beep"),
    "E02": ("Выдох прерван: повторите, выдыхая без перерыва", "Blow interrupted: repeat without stopping"),
    "E03": ("Поток выдоха вне допустимого: дуйте ровнее", "Breath flow out of range: blow more evenly"),
    "E04": ("Температура вне рабочего диапазона алкотестера", "Temperature outside the breathalyzer's working range"),
    "E05": ("Неисправность датчика алкотестера: вызовите техника", "Breathalyzer sensor fault: call a technician"),
    "E06": ("Просрочена калибровка алкотестера: измерение недопустимо, вызовите техника", "Breathalyzer calibration overdue: results not valid, call a technician"),
    "E07": ("Выдох не обнаружен: подуйте в мундштук после сигнала", "No blow detected: blow into the mouthpiece after the signal"),
    "E08": ("Подозрение на алкоголь во рту: подождите 15 минут и повторите", "Mouth alcohol suspected: wait 15 minutes and repeat"),
    "E09": ("Низкий заряд батареи алкотестера", "Breathalyzer battery low"),
    "E10": ("Измерение отменено", "Measurement aborted"),
    "E11": ("Алкотестер не готов (прогрев): подождите и повторите", "Breathalyzer not ready (warming up): wait and retry"),
}

#: ratio → factor for ‰ (g/L) per mg/L (devices.md §3.2).
PERMILLE_PER_MG_L: dict[int, Decimal] = {2000: Decimal("2.0"), 2100: Decimal("2.1")}

#: Largest BrAC we accept as physically plausible. 3.0 mg/L ≈ 6 ‰ at 2000:1, beyond
#: lethal blood levels; a person standing at a gate cannot produce it (D, our bound).
PLAUSIBLE_BRAC_MG_L = (0.0, 3.0)

# Every pattern is used with fullmatch: ``$`` alone would also match before a final "\n".
_FIELD_RE = re.compile(rb"[A-Za-z0-9_.:\-+ ]*")
_HEX2_RE = re.compile(rb"[0-9A-Fa-f]{2}")
_INT_RE = re.compile(r"^\d{1,9}$")
_NUM_RE = re.compile(r"^-?\d{1,6}(\.\d{1,6})?$")
_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def checksum(body: bytes) -> int:
    """XOR of all body bytes (between ``$`` and ``*``), devices.md §3.4."""
    c = 0
    for b in body:
        c ^= b
    return c


def frame(body: str) -> bytes:
    """``$body*hh\\r\\n`` for an ASCII body."""
    raw = body.encode("ascii")
    return b"$" + raw + b"*" + f"{checksum(raw):02X}".encode() + b"\r\n"


def unframe(line: bytes) -> list[str]:
    """Check framing + checksum of one line (CR/LF optional) and return its fields."""
    if not isinstance(line, (bytes, bytearray)):
        raise DecodeError("alcotester line must be bytes")
    line = bytes(line).rstrip(b"\r\n")
    if not line:
        raise DecodeError("empty alcotester line")
    if line[:1] != b"$":
        raise DecodeError("no sync: alcotester line must start with '$'")
    star = line.rfind(b"*")
    if star < 0 or len(line) - star != 3:
        raise DecodeError("truncated alcotester line: expected '*hh' checksum at the end")
    body, hh = line[1:star], line[star + 1 :]
    if not _HEX2_RE.fullmatch(hh):  # int(hh, 16) alone would take " 7", "+7", "7\t"
        raise DecodeError(f"alcotester checksum is not two hex digits: {hh!r}")
    want = int(hh, 16)
    got = checksum(body)
    if got != want:
        raise DecodeError(f"alcotester checksum mismatch: line says {want:02X}, computed {got:02X}")
    if not _FIELD_RE.fullmatch(body.replace(b",", b"")):
        raise DecodeError("alcotester line contains non-printable or unexpected characters")
    return body.decode("ascii").split(",")


def _int(v: str, what: str) -> int:
    if not _INT_RE.fullmatch(v):
        raise DecodeError(f"alcotester {what} must be a non-negative integer, got {v!r}")
    return int(v)


def _num(v: str, what: str) -> Decimal:
    if not _NUM_RE.fullmatch(v):
        raise DecodeError(f"alcotester {what} must be a decimal number, got {v!r}")
    return Decimal(v)


def _ident(v: str, what: str) -> str:
    if not _ID_RE.fullmatch(v):
        raise DecodeError(f"alcotester {what} must be 1–32 letters/digits/_/-, got {v!r}")
    return v


def _utc(v: str) -> datetime:
    if not _UTC_RE.fullmatch(v):
        raise DecodeError(f"alcotester time must be ISO 8601 UTC like 2025-03-14T05:58:12Z, got {v!r}")
    try:
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise DecodeError(f"alcotester time is not a valid date/time: {v!r}") from None


def _date(v: str) -> str:
    if not _DATE_RE.fullmatch(v):
        raise DecodeError(f"alcotester calibration due date must be YYYY-MM-DD, got {v!r}")
    try:
        datetime.strptime(v, "%Y-%m-%d")
    except ValueError:
        raise DecodeError(f"alcotester calibration due date is not a valid date: {v!r}") from None
    return v


def fmt_utc(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class AlReq:
    """Host → device. ``command`` is TEST (arg = subject ref), STAT, ABORT or TIME (arg = utc)."""

    seq: int
    command: str
    arg: str | None = None

    def encode(self) -> bytes:
        parts = ["ALREQ", str(self.seq), self.command] + ([self.arg] if self.arg is not None else [])
        return frame(",".join(parts))


@dataclass(frozen=True)
class AlAck:
    seq: int
    ok: bool = True
    code: str | None = None  # error code when not ok

    def encode(self) -> bytes:
        tail = ["OK"] if self.ok else ["ERR", self.code or "E05"]
        return frame(",".join(["ALACK", str(self.seq), *tail]))


@dataclass(frozen=True)
class AlEvt:
    seq: int
    test_id: str
    event: str  # WARMUP, BLOW, BLOW_PROGRESS, ANALYZING
    value: int | None = None  # seconds for WARMUP, % for BLOW_PROGRESS

    def encode(self) -> bytes:
        parts = ["ALEVT", str(self.seq), self.test_id, self.event]
        if self.value is not None:
            parts.append(str(self.value))
        return frame(",".join(parts))


@dataclass(frozen=True)
class AlRes:
    seq: int
    test_id: str
    time: datetime
    brac_mg_l: Decimal
    volume_l: Decimal
    duration_s: Decimal
    breath_temp_c: Decimal
    serial: str
    cal_due: str
    unit: str = "MGL"

    def encode(self) -> bytes:
        return frame(
            ",".join(
                [
                    "ALRES",
                    str(self.seq),
                    self.test_id,
                    fmt_utc(self.time),
                    f"{self.brac_mg_l:.3f}",
                    self.unit,
                    f"{self.volume_l:.2f}",
                    f"{self.duration_s:.1f}",
                    f"{self.breath_temp_c:.1f}",
                    self.serial,
                    self.cal_due,
                ]
            )
        )


@dataclass(frozen=True)
class AlErr:
    seq: int
    test_id: str
    code: str
    name: str
    volume_l: Decimal | None = None
    duration_s: Decimal | None = None

    def encode(self) -> bytes:
        parts = ["ALERR", str(self.seq), self.test_id, self.code, self.name]
        if self.volume_l is not None and self.duration_s is not None:
            parts += [f"{self.volume_l:.2f}", f"{self.duration_s:.1f}"]
        return frame(",".join(parts))


Message = AlReq | AlAck | AlEvt | AlRes | AlErr

_EVENTS_WITH_VALUE = {"WARMUP", "BLOW_PROGRESS"}
_EVENTS = {"WARMUP", "BLOW", "BLOW_PROGRESS", "ANALYZING"}
_COMMANDS = {"TEST", "STAT", "ABORT", "TIME"}


def _code(v: str) -> str:
    if v not in ERROR_CODES:
        # Unknown codes from a newer firmware are kept, not invented away.
        if not re.fullmatch(r"E\d{2}", v):
            raise DecodeError(f"alcotester error code must look like E01, got {v!r}")
    return v


def decode_message(line: bytes) -> Message:
    """One line → message dataclass; :class:`DecodeError` on anything malformed."""
    f = unframe(line)
    kind, args = f[0], f[1:]

    def need(n_min: int, n_max: int | None = None) -> None:
        n_max = n_min if n_max is None else n_max
        if not n_min <= len(args) <= n_max:
            want = str(n_min) if n_min == n_max else f"{n_min}–{n_max}"
            raise DecodeError(f"alcotester ${kind} needs {want} fields, got {len(args)} (wrong length)")

    if kind == "ALREQ":
        need(2, 3)
        cmd = args[1]
        if cmd not in _COMMANDS:
            raise DecodeError(f"alcotester request command {cmd!r} unknown (TEST/STAT/ABORT/TIME)")
        arg = args[2] if len(args) == 3 else None
        if cmd in ("TEST", "TIME") and arg is None:
            raise DecodeError(f"alcotester {cmd} request needs an argument")
        if cmd == "TIME" and arg is not None:  # (arg is not None: checked just above)
            _utc(arg)  # validate
        return AlReq(_int(args[0], "seq"), cmd, arg)
    if kind == "ALACK":
        need(2, 3)
        seq = _int(args[0], "seq")
        if args[1] == "OK" and len(args) == 2:
            return AlAck(seq, True)
        if args[1] == "ERR" and len(args) == 3:
            return AlAck(seq, False, _code(args[2]))
        raise DecodeError("alcotester $ALACK must be OK or ERR,<code>")
    if kind == "ALEVT":
        need(3, 4)
        seq, tid, ev = _int(args[0], "seq"), _ident(args[1], "test id"), args[2]
        if ev not in _EVENTS:
            raise DecodeError(f"alcotester event {ev!r} unknown")
        if ev in _EVENTS_WITH_VALUE:
            if len(args) != 4:
                raise DecodeError(f"alcotester event {ev} needs a value")
            val = _int(args[3], f"{ev} value")
            if ev == "BLOW_PROGRESS" and val > 100:
                raise DecodeError(f"alcotester blow progress {val}% is over 100%")
            return AlEvt(seq, tid, ev, val)
        if len(args) != 3:
            raise DecodeError(f"alcotester event {ev} takes no value")
        return AlEvt(seq, tid, ev)
    if kind == "ALRES":
        need(10)
        unit = args[4]
        if unit != "MGL":
            raise DecodeError(f"alcotester unit {unit!r} not supported: the line protocol sends MGL (mg/L, §3.4)")
        return AlRes(
            seq=_int(args[0], "seq"),
            test_id=_ident(args[1], "test id"),
            time=_utc(args[2]),
            brac_mg_l=_num(args[3], "BrAC"),
            unit=unit,
            volume_l=_num(args[5], "volume"),
            duration_s=_num(args[6], "duration"),
            breath_temp_c=_num(args[7], "breath temperature"),
            serial=_ident(args[8], "serial"),
            cal_due=_date(args[9]),
        )
    if kind == "ALERR":
        if len(args) not in (4, 6):
            raise DecodeError(f"alcotester $ALERR needs 4 or 6 fields, got {len(args)} (wrong length)")
        code = _code(args[2])
        name = args[3]
        if code in ERROR_CODES and name != ERROR_CODES[code]:
            raise DecodeError(f"alcotester error {code} should be named {ERROR_CODES[code]}, got {name!r}")
        if not re.fullmatch(r"[A-Z_]{1,32}", name):
            raise DecodeError(f"alcotester error name {name!r} malformed")
        vol = _num(args[4], "volume") if len(args) == 6 else None
        dur = _num(args[5], "duration") if len(args) == 6 else None
        return AlErr(_int(args[0], "seq"), _ident(args[1], "test id"), code, name, vol, dur)
    raise DecodeError(f"unknown alcotester sentence ${kind} (expected ALREQ/ALACK/ALEVT/ALRES/ALERR)")


def permille(brac_mg_l: Decimal, ratio: int) -> Decimal:
    """BrAC mg/L → BAC ‰ (g/L) with the given blood:breath ratio (devices.md §3.2)."""
    if ratio not in PERMILLE_PER_MG_L:
        raise ValueError(f"unsupported blood:breath ratio {ratio}:1 (2000 or 2100)")
    return (brac_mg_l * PERMILLE_PER_MG_L[ratio]).quantize(Decimal("0.001"))


def message_to_reading(msg: Message, ratio: int = 2000, raw: bytes | None = None) -> Reading:
    """A message as a :class:`Reading`.

    - ``ALRES`` → ``brac_mg_l`` (what the device sent, mg/L) with test id, blow data and
      the ‰ conversion *plus its ratio* in ``status``.
    - ``ALERR`` → ``brac_mg_l = None`` and ``invalid["brac_mg_l"]`` = "E01 INSUFFICIENT_VOLUME".
    - ``ALACK``/``ALEVT``/``ALREQ`` → no measured field; the sentence in ``status``.
    """
    raw_hex = raw.hex() if raw is not None else None
    if isinstance(msg, AlRes):
        return Reading(
            brac_mg_l=float(msg.brac_mg_l),
            device_time=msg.time,
            device_values={"brac": str(msg.brac_mg_l), "unit": msg.unit},
            status={
                "sentence": "ALRES",
                "seq": msg.seq,
                "test_id": msg.test_id,
                "volume_l": float(msg.volume_l),
                "duration_s": float(msg.duration_s),
                "breath_temp_c": float(msg.breath_temp_c),
                "device_serial": msg.serial,
                "calibration_due": msg.cal_due,
                "bac_permille": float(permille(msg.brac_mg_l, ratio)),
                "blood_breath_ratio": f"{ratio}:1",
            },
            raw_hex=raw_hex,
        )
    if isinstance(msg, AlErr):
        st: dict[str, Any] = {"sentence": "ALERR", "seq": msg.seq, "test_id": msg.test_id, "error_code": msg.code, "error_name": msg.name}
        if msg.volume_l is not None and msg.duration_s is not None:  # both or neither, as parsed
            st["volume_l"] = float(msg.volume_l)
            st["duration_s"] = float(msg.duration_s)
        return Reading(brac_mg_l=None, invalid={"brac_mg_l": f"{msg.code} {msg.name}"}, status=st, raw_hex=raw_hex)
    if isinstance(msg, AlAck):
        st = {"sentence": "ALACK", "seq": msg.seq, "ok": msg.ok}
        if not msg.ok:
            st["error_code"] = msg.code
            st["error_name"] = ERROR_CODES.get(msg.code or "", "UNKNOWN")
        return Reading(status=st, raw_hex=raw_hex)
    if isinstance(msg, AlEvt):
        st = {"sentence": "ALEVT", "seq": msg.seq, "test_id": msg.test_id, "event": msg.event}
        if msg.value is not None:
            st["value"] = msg.value
        return Reading(status=st, raw_hex=raw_hex)
    st = {"sentence": "ALREQ", "seq": msg.seq, "command": msg.command}
    if msg.arg is not None:
        st["arg"] = msg.arg
    return Reading(status=st, raw_hex=raw_hex)


def decode_reading(line: bytes, ratio: int = 2000) -> Reading:
    """Profile ``alcotester``: one line (bytes, CR LF optional) → Reading."""
    return message_to_reading(decode_message(line), ratio=ratio, raw=bytes(line))
