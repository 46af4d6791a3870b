"""The method reports as tables: seed 004's final risk-group report and seed 003's programme table.

* Risk groups (seed 004, final report; ``docs/models/risk-group.md``): the enterprise table
  (workers by final group 1–5 per year and examination), the enterprise average score per year and
  the dynamics by year — from :func:`hub.risk_assessments.report` as it is (for OHS and admin
  after :func:`hub.analytics.privacy.protect`, which hides small cells).
* Reproductive health (seed 003, appendix 3 and 4): built from the stored risk-group assessments,
  whose criterion 1 holds the class of working conditions (СОУТ) and the special agents in contact
  (``reproductive_toxicant``) and criterion 2 the kinds of exposure. Each worker counts once, with
  the latest assessment of the chosen years. Per class: the workers assessed,
  those in contact with reproductive toxicants, seed 003's risk category and measure levels; then the
  programme table (appendix 3) for the worst class found among the workers in contact, from the
  ``reproductive-risk`` model. The hub's assessments carry no sex, so "workers involved" counts every
  worker in contact; the organisation narrows it to women workers (docs/exports.md).

Pure functions from the report dicts to :class:`hub.exports.pdf.Section` tables.
"""

from __future__ import annotations

from typing import Sequence

from hub.analytics.privacy import Suppressor
from hub.exports.pdf import Section
from hub.models.registry import run_model
from hub.models.reproductive import CLASS_ORDER

HIDDEN = "скрыто"
GROUPS = ("1", "2", "3", "4", "5")
EXAMS = {"periodic": "периодический", "preliminary": "предварительный"}


def _cell(value, fmt: str = "{}") -> str:
    if value is None:
        return HIDDEN
    return fmt.format(value).replace(".", ",")


def _share(value) -> str:
    return HIDDEN if value is None else f"{value * 100:.1f} %".replace(".", ",")


def risk_group_sections(report: dict) -> list[Section]:
    """Seed 004's final report: enterprise table, average score by year, dynamics by year."""
    table_rows = []
    for year in sorted(report.get("years") or {}, key=int):
        blocks = report["years"][year]
        for exam, label in EXAMS.items():
            block = blocks.get(exam) or {}
            if not block.get("workers"):
                continue
            counts = block.get("distribution") or {}
            shares = block.get("share") or {}
            table_rows.append([
                str(year), label, str(block["workers"]),
                *[f"{_cell(counts.get(g))} ({_share(shares.get(g))})" if counts.get(g) is not None else HIDDEN
                  for g in GROUPS],
                _cell(block.get("workers_in_high_groups")), _share(block.get("share_high")),
                _cell(block.get("average_score"), "{:.2f}"),
            ])
    by_year = sorted((report.get("enterprise_average_score") or {}).items(), key=lambda item: int(item[0]))
    averages = [[str(year), _cell(value, "{:.2f}")] for year, value in by_year]
    dynamics = []
    for row in report.get("dynamics") or []:
        change = row.get("change_from_previous_year") or {}
        dynamics.append([
            str(row["year"]), _cell(row.get("workers")), _cell(row.get("average_score"), "{:.2f}"),
            _share(row.get("share_high")),
            _cell(change.get("average_score"), "{:+.2f}") if change else "—",
            (_share(change.get("share_high")) if change.get("share_high") is not None else HIDDEN) if change else "—",
            str(change.get("compared_with_year")) if change else "—",
        ])
    privacy = report.get("privacy")
    note = (f"Ячейки менее чем из {privacy['min_cell_size']} работников скрыты (152-ФЗ; 323-ФЗ ст. 13)."
            if privacy else None)
    return [
        Section("1. Распределение работников по группам риска (итоговая группа: врача, иначе предложенная)",
                ["Год", "Осмотр", "Работников", *[f"Группа {g}" for g in GROUPS], "В группах высокого риска",
                 "Доля высокого риска", "Средний балл"],
                table_rows, (4, 6, 5, 6, 6, 6, 6, 6, 6, 6, 5), note),
        Section("2. Средний балл по предприятию (работники, прошедшие периодический осмотр)",
                ["Год", "Средний балл"], averages, (1, 2)),
        Section("3. Динамика по годам (периодические осмотры)",
                ["Год", "Работников", "Средний балл", "Доля высокого риска", "Изменение среднего балла",
                 "Изменение доли высокого риска", "По сравнению с годом"], dynamics),
    ]


def _c1(assessment: dict) -> tuple[str | None, bool]:
    """(class of working conditions, contact with a reproductive toxicant) from an assessment's input."""
    criteria = (assessment.get("input") or {}).get("criteria") or {}
    c1, c2 = criteria.get("c1"), criteria.get("c2")
    working_class = c1.get("class") if isinstance(c1, dict) else None
    contact = isinstance(c1, dict) and "reproductive_toxicant" in (c1.get("agents") or [])
    if isinstance(c2, dict):
        for exposure in c2.get("exposures") or []:
            kinds = exposure.get("kind")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            contact = contact or "reproductive_toxicant" in kinds
    return working_class, contact


def reproductive(assessments: Sequence[dict], *, min_cell: int | None) -> dict:
    """Seed 003 tables from stored assessments; ``min_cell`` hides small counts (None: medic, unchanged)."""
    latest: dict[str, dict] = {}  # a worker counts once, with the latest assessment of the period
    for assessment in sorted(assessments, key=lambda a: (a["year"], a["id"])):
        latest[assessment["worker_id"]] = assessment
    by_class: dict[str, dict[str, int]] = {}
    unknown_class = 0
    for assessment in latest.values():
        working_class, contact = _c1(assessment)
        if working_class is None:
            unknown_class += 1
            continue
        cell = by_class.setdefault(working_class, {"assessed": 0, "contact": 0})
        cell["assessed"] += 1
        cell["contact"] += int(contact)
    suppressor = Suppressor(min_cell) if min_cell else None
    classes = []
    for working_class in sorted(by_class, key=CLASS_ORDER.index):
        cell = by_class[working_class]
        result = run_model("reproductive-risk", {"class": working_class, "programme": False})
        row = {"class": working_class, "assessed": cell["assessed"], "contact": cell["contact"],
               "category_ru": result["category_label"]["ru"], "measures": result["measures"],
               "risk_established": result["risk_established"]}
        if suppressor is not None and suppressor.small(cell["assessed"], cell["contact"]):
            suppressor.hide(row, ("contact",))
        classes.append(row)
    in_contact = [c for c in by_class if by_class[c]["contact"]]
    programme = None
    if in_contact:
        worst = max(in_contact, key=CLASS_ORDER.index)
        involved = sum(by_class[c]["contact"] for c in in_contact)
        shown = None if suppressor is not None and suppressor.small(None, involved) else involved
        programme = run_model("reproductive-risk", {"class": worst, "women_workers": shown})
    return {"classes": classes, "assessments_without_class": unknown_class, "programme": programme,
            "min_cell_size": min_cell, "suppressed_cells": suppressor.hidden if suppressor else 0,
            "source": "seed 003 (Belarus MoH 2016): Table 1, appendix 4, appendix 3"}


def reproductive_sections(data: dict) -> list[Section]:
    symbols = ("–", "+", "++", "+++")
    rows = [[c["class"], str(c["assessed"]), _cell(c["contact"]), c["category_ru"],
             *[symbols[c["measures"][g]] for g in ("information", "prevention", "reduction")]]
            for c in data["classes"]]
    note = None
    if data["assessments_without_class"]:
        note = (f"Оценок без класса условий труда (критерий 1 задан группой): {data['assessments_without_class']}; "
                "в таблицу не включены.")
    if data.get("min_cell_size"):
        note = ((note + " ") if note else "") + (
            f"Числа от 1 до {data['min_cell_size'] - 1} работников скрыты (152-ФЗ; 323-ФЗ ст. 13).")
    sections = [Section("1. Классы условий труда и контакт с репродуктивными токсикантами (по оценкам групп риска)",
                        ["Класс условий труда", "Работников оценено", "В контакте с репродуктивными токсикантами",
                         "Категория профессионального риска", "Информирование о риске", "Профилактика риска",
                         "Снижение риска"], rows, (3, 3, 4, 6, 3, 3, 3), note)]
    programme = (data.get("programme") or {}).get("programme")
    if programme:
        result = data["programme"]
        terms = {"short": "краткосрочный", "medium": "среднесрочный", "long": "долгосрочный"}
        prog_rows = [[str(r["no"]), f"{r.get('measure_ru', r['measure'])} [{r.get('section_ru', r['section'])}; "
                                    f"{r['level_symbol']}; срок: {terms.get(r['term'], r['term'])}]",
                      "", "", "", _cell(r["workers_involved"]) if r["workers_involved"] is not None else HIDDEN, ""]
                     for r in programme["rows"]]
        sections.append(Section(
            f"2. Программа профилактических и оздоровительных мероприятий (класс {result['class']}: "
            f"{result['category_label']['ru']})",
            ["№", "Задача / мероприятие", "Исполнитель и соисполнители", "Срок", "Затраты и источник финансирования",
             "Число вовлечённых работников", "Ожидаемый результат (в т. ч. экономический эффект)"],
            prog_rows, (1, 12, 4, 2, 4, 3, 4), f"Цель: {programme.get('goal_ru', programme['goal'])}. {programme.get('note_ru', programme['note'])}."))
    return sections
