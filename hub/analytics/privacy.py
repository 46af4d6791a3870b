"""Small-cell suppression of the analytics for the roles that may not see medical details (ohs, admin).

OHS sees who was examined and whether each worker was admitted, so a small count of a finding
names people: "febrile: 1 of 18" on a day one worker was not admitted is that worker's
temperature — health data is a medical secret (323-FZ art. 13) and personal data (152-FZ). With
``k = privacy.min_cell_size`` (5, a design default; docs/ohs.md):

1. **Primary**: a cell of ``n`` workers of whom ``x`` have the finding is hidden when
   ``0 < x < k`` (too few have it) or ``x > 0`` and ``0 < n − x < k`` (too few lack it: all but a
   few have it). Its counts and every rate and interval derived from it become ``null`` and the row
   carries ``"suppressed": true`` (series carry a parallel ``suppressed`` list).
2. **Complementary**: where a published period total is the sum of daily cells, the hidden cells
   of the group must be at least two and hold 0 or at least ``k`` cases together, else the next
   smallest cells are hidden too — and the total, when no cell is left.
3. **Rt**: a window's estimate is hidden when it holds 1 … k−1 new cases or a hidden day, or one
   of the ``burn_in_days`` before it (their infectivity is in the estimate).
4. **Comparisons**: a group with a hidden count hides its indicators and the comparison.

The medic role gets the results unchanged; per-worker analyses (noise per worker) are the
medic's only, which the API enforces.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

RATES = ("proportion", "lower", "upper")
RT_VALUES = ("mean", "sd", "lower", "median", "upper", "quantiles", "shape", "scale")

#: epi-kiosk tables: (denominator, numerators)
EPI_TABLES = {
    "febrile_by_day_site": ("examined", ("febrile",)),
    "alcohol_by_site_shift": ("tested", ("positive",)),
    "alcohol_daily": ("tested", ("positive",)),
    "bp_by_site": ("measured", ("out_of_range", "high", "low")),
    "bp_daily": ("measured", ("out_of_range", "high", "low")),
}
#: (daily table, period table, group columns): the daily cells of a group sum to its period cell
EPI_TOTALS = (("alcohol_daily", "alcohol_by_site_shift", ("site", "shift")),
              ("bp_daily", "bp_by_site", ("site",)))


class Suppressor:
    def __init__(self, k: int):
        self.k = k
        self.hidden = 0

    def small(self, n: int | None, x: int | None) -> bool:
        return bool(x) and (x < self.k or (n is not None and 0 < n - x < self.k))

    def hide(self, row: dict, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in row:
                row[key] = None
        row["suppressed"] = True
        self.hidden += 1

    # ------------------------------------------------------------------ epi-kiosk

    def epi_kiosk(self, result: dict) -> None:
        marked: dict[int, dict] = {}  # id(row) -> row, rows to hide
        for table, (n, xs) in EPI_TABLES.items():
            for row in result.get(table) or []:
                if any(self.small(row.get(n), row.get(x)) for x in xs):
                    marked[id(row)] = row
        for daily, period, columns in EPI_TOTALS:
            xs = EPI_TABLES[daily][1]
            totals = {tuple(r.get(c) for c in columns): r for r in result.get(period) or []}
            groups: dict[tuple, list[dict]] = defaultdict(list)
            for row in result.get(daily) or []:
                groups[tuple(row.get(c) for c in columns)].append(row)
            for key, rows in groups.items():
                total = totals.get(key)
                if total is not None and id(total) not in marked:
                    self._complement(rows, total, xs, marked)
        for table, (_n, xs) in EPI_TABLES.items():
            for row in result.get(table) or []:
                if id(row) in marked:
                    self.hide(row, (*xs, *RATES))
        hidden_days = {(r["site"], r["date"]) for r in result.get("febrile_by_day_site") or [] if r.get("suppressed")}
        for site, series in (result.get("febrile_daily") or {}).items():
            flags = [(site, d) in hidden_days for d in series.get("dates", [])]
            series["febrile"] = [None if f else v for f, v in zip(flags, series.get("febrile", []), strict=True)]
            series["suppressed"] = flags

    def _complement(self, rows: list[dict], total: dict, xs: tuple[str, ...], marked: dict[int, dict]) -> None:
        """Hide more daily cells (or the total) until the hidden ones cannot be told from the total."""
        while True:
            hidden = [r for r in rows if id(r) in marked]
            if not hidden:
                return
            sums = [sum(r.get(x) or 0 for r in hidden) for x in xs]
            if len(hidden) >= 2 and all(s == 0 or s >= self.k for s in sums):
                return
            rest = sorted((r for r in rows if id(r) not in marked), key=lambda r: (not r.get(xs[0]), r.get(xs[0]) or 0))
            victim = rest[0] if rest else total
            marked[id(victim)] = victim
            if victim is total:
                return

    # ------------------------------------------------------------------ Rt

    def rt_febrile(self, result: dict) -> None:
        history = result.get("burn_in_days") or 0  # days before a window that still weigh in its estimate
        for site in result.get("sites") or []:
            examined, febrile, new = site.get("examined", []), site.get("febrile", []), site.get("new_febrile", [])
            hide_febrile = [self.small(n, x) for n, x in zip(examined, febrile, strict=True)]
            hide_new = [h or self.small(n, x) for h, n, x in zip(hide_febrile, examined, new, strict=True)]
            site["febrile"] = [None if h else v for h, v in zip(hide_febrile, febrile, strict=True)]
            site["new_febrile"] = [None if h else v for h, v in zip(hide_new, new, strict=True)]
            site["suppressed"] = [a or b for a, b in zip(hide_febrile, hide_new, strict=True)]
            self.hidden += sum(site["suppressed"])
            rt = site.get("rt") or {}
            for estimate in rt.get("estimates") or []:
                window = range(estimate["t_start"] - 1, estimate["t_end"])
                cases = sum(new[i] for i in window if i < len(new))
                reach = range(max(0, window.start - history), window.stop)  # the infectivity of earlier days
                if 0 < cases < self.k or any(hide_new[i] for i in reach if i < len(hide_new)):
                    self.hide(estimate, RT_VALUES)
            rt["warnings"] = [self._first_window(w) for w in rt.get("warnings") or []]

    def _first_window(self, warning: str) -> str:
        def replace(m: re.Match) -> str:
            hidden = 0 < float(m.group(1)) < self.k
            return f"fewer than {self.k} cases in the first window" if hidden else m.group(0)
        return re.sub(r"([\d.]+) cases in the first window", replace, warning)

    # ------------------------------------------------------------------ exposed vs unexposed

    def comparison(self, result: dict) -> None:
        counts = result.get("counts") or {}
        hidden = {g for g, c in counts.items() if self.small(c.get("workers"), c.get("hypertensive"))}
        for g in hidden:
            self.hide(counts[g], ("hypertensive",))
        if not hidden:
            return
        result["groups"] = [{"name": g["name"], "population": g.get("population"), "suppressed": True}
                            if g.get("name") in hidden else g for g in result.get("groups") or []]
        if result.get("comparison") is not None:
            c = result["comparison"]
            result["comparison"] = {"exposed": c.get("exposed"), "reference": c.get("reference"), "suppressed": True}
        if "rr" in result:
            result["rr"] = None


def _suppress_group_block(suppressor: Suppressor, block: dict) -> None:
    """One year × exam block of the risk-group report: a distribution over groups 1–5 of ``workers``."""
    n = block.get("workers") or 0
    counts = block.get("distribution") or {}
    derived = ("share_high", "workers_in_high_groups", "average_score")
    if 0 < n < suppressor.k:  # too few examined: every figure of the block names someone
        for group in counts:
            counts[group] = None
            block.get("share", {})[group] = None
        suppressor.hide(block, derived)
        return
    hidden = [g for g, c in counts.items() if c is not None and suppressor.small(n, c)]
    if len(hidden) == 1:  # complementary: workers − the others would give it back
        rest = sorted((c, g) for g, c in counts.items() if g not in hidden and c)
        if rest:
            hidden.append(rest[0][1])
    for group in hidden:
        counts[group] = None
        block.get("share", {})[group] = None
        block["suppressed"] = True
        suppressor.hidden += 1
    high = block.get("workers_in_high_groups")
    if high is not None and (suppressor.small(n, high) or any(int(g) in block.get("high_groups", []) for g in hidden)):
        suppressor.hide(block, ("workers_in_high_groups", "share_high"))


def risk_group_report(suppressor: Suppressor, report: dict) -> None:
    """Seed 004's final report as OHS reads it: groups of fewer than k workers hidden, and the
    yearly averages and changes built on years of fewer than k workers."""
    small_years = set()
    for year, blocks in (report.get("years") or {}).items():
        for exam in ("periodic", "preliminary"):
            if isinstance(blocks.get(exam), dict):
                _suppress_group_block(suppressor, blocks[exam])
        if 0 < ((blocks.get("periodic") or {}).get("workers") or 0) < suppressor.k:
            small_years.add(str(year))
    averages = report.get("enterprise_average_score") or {}
    for year in small_years & set(averages):
        averages[year] = None
    for row in report.get("dynamics") or []:
        year = str(row.get("year"))
        change = row.get("change_from_previous_year") or {}
        if year in small_years or str(change.get("compared_with_year")) in small_years:
            suppressor.hide(row, ("average_score", "share_high"))
            if change:
                row["change_from_previous_year"] = None
    agreement = report.get("collective_agreement") or {}
    if suppressor.small(None, agreement.get("workers_in_high_groups")):
        suppressor.hide(agreement, ("workers_in_high_groups",))
    latest = report.get("distribution_latest_year")
    if latest:
        blocks = (report.get("years") or {}).get(str(latest.get("year")), {})
        report["distribution_latest_year"] = {"year": latest["year"], **(blocks.get("periodic") or {})}


RULES = {"epi-kiosk": Suppressor.epi_kiosk, "risk-group-report": risk_group_report, "rt-febrile": Suppressor.rt_febrile,
         "compare-hypertension-noise": Suppressor.comparison}


def protect(name: str, result: dict[str, Any], k: int) -> dict[str, Any]:
    """Suppress the small cells of analysis ``name`` in place; adds the ``privacy`` block."""
    suppressor = Suppressor(k)
    rule = RULES.get(name)
    if rule is not None:
        rule(suppressor, result)
    result["privacy"] = {
        "view": "aggregate", "min_cell_size": k, "suppressed_cells": suppressor.hidden,
        "rule": f"counts of 1 to {k - 1} workers with (or without) a finding, and the rates and estimates "
                "derived from them, are null with suppressed: true (152-FZ; 323-FZ art. 13)",
    }
    return result
