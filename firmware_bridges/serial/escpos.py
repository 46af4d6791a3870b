"""ESC/POS encoder for the kiosk's receipt printer (pure: text in, bytes out).

Commands used (Epson ESC/POS command reference, the de-facto standard of 58/80 mm
thermal printers): ``ESC @`` initialise, ``ESC t n`` character code table (n = 17: PC866
Cyrillic on Epson TM printers; many Chinese printers use other numbers — configurable),
``ESC a n`` justification, ``ESC E n`` emphasis, ``GS ! n`` character size, ``LF`` line
feed, ``ESC d n`` feed n lines, ``GS V 66 n`` feed and partial cut.

Cyrillic text is encoded in CP866 (the printer's PC866 table). A character CP866 cannot
hold is printed as ``?`` rather than aborting the slip (and :func:`encode_text` reports it).
"""

from __future__ import annotations

from typing import Any

ESC, GS, LF = b"\x1b", b"\x1d", b"\n"
INIT = ESC + b"@"
CUT = GS + b"V" + bytes([66, 3])
CODEPAGE_PC866 = 17
ALIGN = {"left": 0, "center": 1, "right": 2}


def select_codepage(n: int = CODEPAGE_PC866) -> bytes:
    if not 0 <= n <= 255:
        raise ValueError(f"code table {n} is not 0..255")
    return ESC + b"t" + bytes([n])


def align(where: str) -> bytes:
    return ESC + b"a" + bytes([ALIGN[where]])


def bold(on: bool) -> bytes:
    return ESC + b"E" + bytes([1 if on else 0])


def size(width: int = 1, height: int = 1) -> bytes:
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError("character size is 1..8 in each direction")
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


def feed(lines: int) -> bytes:
    return ESC + b"d" + bytes([max(0, min(lines, 255))])


def encode_text(text: str, encoding: str = "cp866") -> bytes:
    """Text for the printer: control characters dropped, unknown characters as '?'."""
    clean = "".join(ch for ch in text if ch == "\n" or ch >= " ")
    return clean.encode(encoding, errors="replace")


def receipt(title: str, lines: list[str], emphasis: str | None = None, *, codepage: int = CODEPAGE_PC866,
            encoding: str = "cp866", cut: bool = True) -> bytes:
    """A whole receipt: centred bold title, the body lines, a large emphasised line, cut."""
    out = bytearray(INIT + select_codepage(codepage))
    out += align("center") + bold(True) + encode_text(title, encoding) + LF + bold(False)
    if emphasis:
        out += size(2, 2) + bold(True) + encode_text(emphasis, encoding) + LF + bold(False) + size(1, 1)
    out += align("left")
    for line in lines:
        out += encode_text(line, encoding) + LF
    out += feed(3)
    if cut:
        out += CUT
    return bytes(out)


# ----------------------------------------------------------------------------- decoding

#: ESC/GS commands and their number of parameter bytes (what this module and common drivers send).
_ESC_ARGS = {b"@": 0, b"t": 1, b"a": 1, b"E": 1, b"d": 1, b"!": 1, b"-": 1, b"2": 0, b"3": 1, b"J": 1, b"M": 1}
_GS_ARGS = {b"!": 1, b"B": 1, b"h": 1, b"w": 1, b"H": 1, b"f": 1}

CODEPAGE_ENCODINGS = {17: "cp866", 0: "cp437", 16: "cp1252", 46: "cp1251"}


class EscPosDecodeError(ValueError):
    """Bytes that are not the ESC/POS this decoder understands (names the offset)."""


def decode(data: bytes) -> dict[str, Any]:
    """Decode a printed job back to text: {"lines", "cuts", "codepages", "bold_lines", "large_lines"}.

    Used by the printer simulator (what would have come out of the printer). Raises
    :class:`EscPosDecodeError` on an unknown command.
    """
    lines: list[str] = []
    bold_lines: list[str] = []
    large_lines: list[str] = []
    codepages: list[int] = []
    cuts = 0
    encoding = "cp437"
    is_bold = is_large = False
    current = bytearray()

    def flush() -> None:
        text = current.decode(encoding, errors="replace")
        lines.append(text)
        if is_bold:
            bold_lines.append(text)
        if is_large:
            large_lines.append(text)
        current.clear()

    i = 0
    while i < len(data):
        b = data[i : i + 1]
        if b == ESC or b == GS:
            table = _ESC_ARGS if b == ESC else _GS_ARGS
            cmd = data[i + 1 : i + 2]
            if b == GS and cmd == b"V":
                mode = data[i + 2] if i + 2 < len(data) else None
                if mode is None:
                    raise EscPosDecodeError(f"truncated GS V at byte {i}")
                n = 2 if mode in (65, 66) else 1
                if i + 2 + n > len(data):
                    raise EscPosDecodeError(f"truncated GS V at byte {i}")
                cuts += 1
                i += 2 + n
                continue
            if cmd not in table:
                raise EscPosDecodeError(f"unknown command {b.hex()} {cmd.hex() or '(end)'} at byte {i}")
            nargs = table[cmd]
            args = data[i + 2 : i + 2 + nargs]
            if len(args) < nargs:
                raise EscPosDecodeError(f"truncated command at byte {i}")
            if b == ESC and cmd == b"@":
                encoding, is_bold, is_large = "cp437", False, False
            elif b == ESC and cmd == b"t":
                codepages.append(args[0])
                encoding = CODEPAGE_ENCODINGS.get(args[0], "cp437")
            elif b == ESC and cmd == b"E":
                is_bold = bool(args[0] & 1)
            elif b == GS and cmd == b"!":
                is_large = args[0] != 0
            elif b == ESC and cmd == b"d":
                if current:
                    flush()
            i += 2 + nargs
            continue
        if b == LF:
            flush()
        elif b == b"\r":
            pass
        else:
            current += b
        i += 1
    if current:
        flush()
    return {"lines": lines, "cuts": cuts, "codepages": codepages, "bold_lines": bold_lines, "large_lines": large_lines}
