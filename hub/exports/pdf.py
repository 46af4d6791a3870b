"""One PDF layout for every export: landscape A4 pages of titled tables, like a paper journal.

Drawn with ReportLab's canvas (text, lines; the PDF itself is ReportLab's) because the exam
journal must render 10,000 rows in well under five seconds (bench/exports.py): a platypus
``Table`` re-measures the rest of a long table at every page break. Each page repeats the
document header (title, period, site …) and the table's column header, and carries
"Страница N из M" in its footer (paper journals are numbered, reference.md §1.6). Cell text is
wrapped to the column width; a row taller than a page continues on the next one, so nothing is
cut off.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject

from hub.exports import fonts

PAGE = landscape(A4)
MARGIN = 10 * mm
FONT_SIZE = 7.0
LEADING = 8.4
PAD = 2.0
TITLE_SIZE = 11.0
HEADER_SIZE = 8.0


@dataclass
class Section:
    """One table: a heading, column titles with relative widths, rows of text cells, an optional note."""

    heading: str | None
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    widths: Sequence[float] | None = None  # relative; equal when None
    note: str | None = None


@dataclass
class Document:
    title: str
    header_lines: Sequence[str]
    sections: Sequence[Section]
    footer: str = ""
    page_label: str = "Страница {page} из {pages}"
    empty_text: str = "Записей нет."
    meta: dict = field(default_factory=dict)


@lru_cache(maxsize=65536)
def _width(text: str, font: str, size: float) -> float:
    return stringWidth(text, font, size)


@lru_cache(maxsize=65536)
def wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Lines of ``text`` no wider than ``width`` (explicit newlines kept; an over-long word is cut).
    Cached: a journal repeats most of its cell texts from row to row."""
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        if _width(paragraph, font, size) <= width:
            out.append(paragraph)
            continue
        space = _width(" ", font, size)
        line, used = "", 0.0
        for word in paragraph.split(" "):
            w = _width(word, font, size)
            if line and used + space + w <= width:
                line, used = f"{line} {word}", used + space + w
                continue
            if not line and w <= width:
                line, used = word, w
                continue
            if line:
                out.append(line)
            while len(word) > 1 and _width(word, font, size) > width:  # no space to break at
                cut = _fitting_prefix(word, font, size, width)
                out.append(word[:cut])
                word = word[cut:]
            line, used = word, _width(word, font, size)
        out.append(line)
    return tuple(out)


def _fitting_prefix(word: str, font: str, size: float, width: float) -> int:
    """Length of the longest prefix of ``word`` that fits ``width`` (at least one character)."""
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if stringWidth(word[:mid], font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Layout:
    """Places header, tables and rows on pages; the page count is known before anything is drawn."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.regular, self.bold = fonts.register()
        self.width, self.height = PAGE
        self.inner = self.width - 2 * MARGIN
        self.pages: list[list[tuple]] = []  # per page: drawing operations
        self.top = self.height - MARGIN - self._doc_header_height()
        self.bottom = MARGIN + LEADING + 4
        self.block: tuple[list[float], float] | None = None  # the open table on this page: column x, top

    def _doc_header_height(self) -> float:
        return TITLE_SIZE + 4 + len(self.doc.header_lines) * (HEADER_SIZE + 2) + 4

    def new_page(self) -> None:
        if self.pages:
            self.close_block()
        self.pages.append([])
        self.y = self.top

    def close_block(self) -> None:
        """The table's frame and column rules, drawn once per page instead of once per cell."""
        if self.block is not None:
            xs, top = self.block
            self.add(("grid", xs, top, self.y))
            self.block = None

    def add(self, op: tuple) -> None:
        self.pages[-1].append(op)

    def run(self) -> list[list[tuple]]:
        self.new_page()
        any_rows = False
        for section in self.doc.sections:
            self.section(section)
            any_rows = any_rows or bool(section.rows)
        if not any_rows:
            self.add(("text", self.regular, FONT_SIZE + 1, MARGIN, self.y - LEADING, self.doc.empty_text))
        return self.pages

    def section(self, section: Section) -> None:
        weights = list(section.widths or [1.0] * len(section.columns))
        total = sum(weights)
        widths = [self.inner * w / total for w in weights]
        head = [wrap(c, self.bold, FONT_SIZE, w - 2 * PAD) for c, w in zip(section.columns, widths, strict=True)]
        head_h = max(len(c) for c in head) * LEADING + 2 * PAD
        heading_h = (HEADER_SIZE + 6) if section.heading else 0
        if self.y - heading_h - head_h - LEADING - 2 * PAD < self.bottom:
            self.new_page()
        if section.heading:
            self.y -= HEADER_SIZE + 2
            self.add(("text", self.bold, HEADER_SIZE + 1, MARGIN, self.y, section.heading))
            self.y -= 4
        self.column_header(head, widths, head_h)
        for row in section.rows:
            cells = [wrap(v, self.regular, FONT_SIZE, w - 2 * PAD) for v, w in zip(row, widths, strict=True)]
            self.row(cells, widths, head, head_h)
        self.close_block()
        if section.note:
            for line in wrap(section.note, self.regular, FONT_SIZE, self.inner):
                if self.y - LEADING < self.bottom:
                    self.new_page()
                self.y -= LEADING
                self.add(("text", self.regular, FONT_SIZE, MARGIN, self.y, line))
        self.y -= LEADING

    def column_header(self, head, widths, head_h) -> None:
        xs = [MARGIN]
        for w in widths:
            xs.append(xs[-1] + w)
        self.block = (xs, self.y)
        self.add(("fill", MARGIN, self.y - head_h, self.inner, head_h))
        self.cells(head, widths, head_h, self.bold)

    def row(self, cells: list[list[str]], widths, head, head_h) -> None:
        start = 0
        lines = max((len(c) for c in cells), default=1)
        while start < lines:
            room = int((self.y - self.bottom - 2 * PAD) // LEADING)
            fits_fresh_page = lines * LEADING + 2 * PAD <= self.top - self.bottom - head_h
            if room < 1 or (start == 0 and room < lines and fits_fresh_page):
                self.new_page()  # the row fits whole on a fresh page: do not split it
                self.column_header(head, widths, head_h)
                continue
            take = min(room, lines - start)
            chunk = [c[start:start + take] for c in cells]
            self.cells(chunk, widths, take * LEADING + 2 * PAD, self.regular)
            start += take

    def cells(self, cells: list[list[str]], widths, h: float, font: str) -> None:
        x = MARGIN
        for lines, w in zip(cells, widths, strict=True):
            if lines:
                self.add(("lines", font, FONT_SIZE, x + PAD, self.y - PAD - FONT_SIZE, lines))
            x += w
        self.y -= h
        self.add(("hline", self.y))


class _Text(PDFTextObject):
    """ReportLab's text object with its text encoding memoised for one document.

    Why: most journal lines repeat ("жалоб нет", the rules' texts, names); ReportLab encodes every
    line anew (subset mapping, escaping). The encoding depends only on the font, size, current
    subset and text, and a glyph's subset never changes within a document."""

    def __init__(self, canvas: Canvas, memo: dict):
        super().__init__(canvas)
        self._memo = memo

    def cell(self, lines: tuple[str, ...]) -> None:
        """``textLine`` for each line, the whole cell's operators kept for its next occurrence (the cursor
        is not tracked: every cell starts with ``setTextOrigin``)."""
        key = (self._fontname, self._fontsize, self._curSubset, lines)
        hit = self._memo.get(key)
        if hit is None:
            start = len(self._code)
            for line in lines:
                self.textLine(line)
            hit = self._memo[key] = (" ".join(self._code[start:]), self._curSubset)
            del self._code[start:]
        self._code.append(hit[0])
        self._curSubset = hit[1]

    def _formatText(self, text):
        key = (self._fontname, self._fontsize, self._curSubset, text)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = (super()._formatText(text), self._curSubset)
        else:
            self._curSubset = hit[1]
        return hit[0]


def render(doc: Document) -> bytes:
    """The document as PDF bytes (landscape A4, numbered pages, embedded DejaVu Sans)."""
    layout = _Layout(doc)
    pages = layout.run()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(doc.title)
    canvas.setAuthor(doc.meta.get("author", "OHS hub"))
    canvas.setSubject(doc.meta.get("subject", doc.title))
    canvas.setLineWidth(0.4)
    memo: dict = {}
    for number, ops in enumerate(pages, start=1):
        _page_header(canvas, layout, doc)
        text = _Text(canvas, memo)
        rules: list[tuple[float, float, float, float]] = []
        current = None
        for op in ops:
            kind = op[0]
            if kind in ("text", "lines"):
                _, font, size, x, y, lines = op
                if (font, size) != current:
                    text.setFont(font, size, LEADING)
                    current = (font, size)
                text.setTextOrigin(x, y)
                if kind == "text":
                    text.textOut(lines)
                else:
                    text.cell(lines)
            elif kind == "hline":
                rules.append((MARGIN, op[1], layout.width - MARGIN, op[1]))
            elif kind == "grid":
                _, xs, top, bottom = op
                rules.append((MARGIN, top, layout.width - MARGIN, top))
                rules.extend((x, bottom, x, top) for x in xs)
            elif kind == "fill":
                canvas.setFillGray(0.9)
                canvas.rect(op[1], op[2], op[3], op[4], stroke=0, fill=1)
                canvas.setFillGray(0)
        canvas.drawText(text)
        canvas.lines(rules)
        canvas.setFont(layout.regular, FONT_SIZE)
        if doc.footer:
            canvas.drawString(MARGIN, MARGIN, doc.footer)
        canvas.drawRightString(layout.width - MARGIN, MARGIN, doc.page_label.format(page=number, pages=len(pages)))
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _page_header(canvas: Canvas, layout: _Layout, doc: Document) -> None:
    y = layout.height - MARGIN - TITLE_SIZE
    canvas.setFont(layout.bold, TITLE_SIZE)
    canvas.drawString(MARGIN, y, doc.title)
    y -= 4
    canvas.setFont(layout.regular, HEADER_SIZE)
    for line in doc.header_lines:
        y -= HEADER_SIZE + 2
        canvas.drawString(MARGIN, y, line)
