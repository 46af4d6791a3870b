"""The TrueType fonts of the PDF exports: DejaVu Sans from Debian's ``fonts-dejavu-core``.

Why: the PDF core fonts (Helvetica …) have no Cyrillic glyphs; a journal in Russian needs an
embedded Unicode font. The files are found at run time (``$OHS_PDF_FONT_DIR`` first, then the
Debian/Ubuntu and Fedora locations); when none is there the export fails with a
:class:`FontMissing` that names the package to install — never a PDF with empty boxes.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

ENV_VAR = "OHS_PDF_FONT_DIR"
#: Where distributions put DejaVu Sans (Debian/Ubuntu fonts-dejavu-core; Fedora dejavu-sans-fonts).
SEARCH_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu-sans-fonts", "/usr/share/fonts/dejavu",
               "/usr/share/fonts/TTF")
FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
#: Names the fonts are registered under in ReportLab.
REGULAR = "OHS-DejaVuSans"
BOLD = "OHS-DejaVuSans-Bold"

_lock = threading.Lock()


class CachedTTFont(TTFont):
    """A TTFont that remembers how each text was split into glyph subsets, per document.

    Why: a journal draws hundreds of thousands of lines, most of them repeated ("жалоб нет", the
    rules' texts); ReportLab maps each character to its subset in Python on every draw. A subset
    assignment never changes once made within a document, so a text's split is reused as is.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._splits: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    def splitString(self, text, doc, encoding="utf-8"):
        try:
            cache = self._splits[doc]
        except (KeyError, TypeError):
            cache = {}
            try:
                self._splits[doc] = cache
            except TypeError:  # a document that takes no weak reference: no cache
                return super().splitString(text, doc, encoding)
        found = cache.get(text)
        if found is None:
            found = cache[text] = super().splitString(text, doc, encoding)
        return found
_registered = False


class FontMissing(RuntimeError):
    """The PDF font files are not installed."""


def font_dirs() -> list[Path]:
    env = os.environ.get(ENV_VAR)
    return ([Path(env)] if env else []) + [Path(d) for d in SEARCH_DIRS]


def find_fonts() -> dict[str, Path]:
    """Paths of the regular and bold DejaVu Sans files; FontMissing naming the package when absent."""
    for directory in font_dirs():
        paths = {style: directory / name for style, name in FILES.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    searched = ", ".join(str(d) for d in font_dirs())
    raise FontMissing(f"the PDF exports need the DejaVu Sans fonts ({', '.join(FILES.values())}) and found them in "
                      f"none of: {searched}. Install the Debian package fonts-dejavu-core "
                      f"(apt-get install -y fonts-dejavu-core) or set ${ENV_VAR} to a folder holding them")


def register() -> tuple[str, str]:
    """Register the fonts with ReportLab once per process; returns (regular, bold) font names."""
    global _registered
    with _lock:
        if not _registered:
            paths = find_fonts()
            pdfmetrics.registerFont(CachedTTFont(REGULAR, str(paths["regular"])))
            pdfmetrics.registerFont(CachedTTFont(BOLD, str(paths["bold"])))
            _registered = True
    return REGULAR, BOLD
