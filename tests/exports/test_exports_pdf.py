"""The PDF table layout on its own: page numbers over many pages, repeated headers, rows taller than
a page continued rather than cut, over-long words broken (every character kept); and a clear error
without the fonts."""

from __future__ import annotations

import pytest

from hub.exports import fonts, pdf
from tests.exports.export_helpers import pdf_text, pdf_to_png, png_size


def test_many_rows_are_paged_numbered_and_nothing_is_cut(artifacts_dir):
    rows = [[f"{i:04d}", f"Работник № {i} — Ёлкин", "жалоб нет"] for i in range(400)]
    tall = "\n".join(f"строка {n} длинной записи медработника" for n in range(120))  # taller than a page
    rows.insert(200, ["tall", tall, "жалоб нет"])
    document = pdf.Document("Журнал проверки", ["Период: 01.12.2026", "Площадка: plant-1"],
                            [pdf.Section(None, ["№", "Ф. И. О.", "Жалобы"], rows, (1, 4, 2))], footer="Подвал журнала")
    pages = pdf_to_png(pdf.render(document), artifacts_dir / "exports", "layout")
    assert len(pages) > 5 and all(w > h for w, h in (png_size(p) for p in pages))
    text = pdf_text(artifacts_dir / "exports" / "layout.pdf")
    for page in (1, len(pages)):
        assert f"Страница {page} из {len(pages)}" in text
    assert text.count("Журнал проверки") == text.count("Подвал журнала") == len(pages)  # on every page
    assert text.count("Ф. И. О.") == len(pages)  # the column header repeats on every page
    for i in (0, 199, 399):
        assert f"Работник № {i} — Ёлкин" in text
    for n in (0, 60, 119):  # the tall row continues over pages, every line kept
        assert f"строка {n} длинной записи медработника" in text


def test_wrap_keeps_every_character_within_the_width():
    regular, _ = fonts.register()
    text = "Алкоголь в выдыхаемом воздухе: 0,210 мг/л (порог 0,16 мг/л и выше) " + "Ы" * 80
    lines = pdf.wrap(text, regular, 7.0, 60.0)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(pdf.stringWidth(line, regular, 7.0) <= 60.0 for line in lines)


def test_missing_fonts_name_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "SEARCH_DIRS", ())
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path))
    with pytest.raises(fonts.FontMissing, match="fonts-dejavu-core"):
        fonts.find_fonts()
