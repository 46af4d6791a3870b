"""CSV of the exports: UTF-8, a header row, RFC 4180 quoting (Python's csv module).

A report of several tables is written table after table: a row holding the table's title (and its
note, if any, in the second cell), its header row, its rows, an empty row (docs/exports.md).
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

from hub.exports.pdf import Section


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def sections_csv(sections: Sequence[Section]) -> str:
    """Several tables in one CSV: title row (title, note), header row, data rows, empty row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for section in sections:
        writer.writerow([section.heading or "", *([section.note] if section.note else [])])
        writer.writerow(section.columns)
        writer.writerows(section.rows)
        writer.writerow([])
    return buffer.getvalue()
