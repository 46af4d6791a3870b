"""The final outcome of an exam: the medic's decision where there is one, the kiosk's pre-decision otherwise.

The kiosk decides at once (admitted / not admitted / needs a medic) — a *pre-decision* when a
medic later reviews the exam (Order 266n/2021: the conclusion on admission is the medical
worker's; seed digest §1). The medic's decisions are kept in ``medic_decisions``
(:mod:`hub.medic`), each new one superseding the previous, so the newest decision of an exam is
its final outcome. Every list of exams shows ``final_outcome`` with ``decided_by`` /
``decided_at`` and ``outcome_source`` (``medic`` or ``kiosk``) so that a pre-decision is never
labelled as the conclusion.
"""

from __future__ import annotations

from typing import Any, Iterable

from hub import medic

#: SQL for the final outcome of the row of ``exams`` in scope, usable in WHERE and GROUP BY clauses: the
#: exam's newest medic decision, which :func:`hub.medic.record_decision` writes on its row
#: (``exams.medic_decision``, migration 0004) in the decision's own transaction, else the kiosk's outcome.
FINAL_OUTCOME_SQL = "COALESCE(exams.medic_decision, exams.outcome)"

#: ``final_outcome = ?`` as a filter on ``exams`` (bind the outcome twice, :func:`filter_params`): the exams
#: without a medic decision whose pre-decision is it, or those whose current decision is it. The same rows
#: as ``FINAL_OUTCOME_SQL = ?``: ``exams.medic_decision`` is the newest decision, written with it
#: (:func:`hub.medic.record_decision`, migration 0004). Each branch walks an index (``exams_by_outcome_time``
#: and the partial ``exams_medic_decided``), so counting a filtered journal reads the matching exams only.
FINAL_FILTER_SQL = "((exams.outcome = ? AND exams.medic_decision IS NULL) OR exams.medic_decision = ?)"


def filter_params(outcome: str) -> list[str]:
    """The parameters of :data:`FINAL_FILTER_SQL` for one final outcome."""
    return [outcome, outcome]


def ensure_schema(store) -> None:
    """The decisions table exists before any query joins it (a hub that never saw a medic has none yet)."""
    medic.ensure_schema(store)


def latest_decisions(store, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The newest medic decision of each exam among ``event_ids`` (exams without one are absent)."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return {}
    ensure_schema(store)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit stays far away
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.query(
            "SELECT event_id, decision, medic, decided_at FROM medic_decisions WHERE id IN "
            f"(SELECT max(id) FROM medic_decisions WHERE event_id IN ({marks}) GROUP BY event_id)", chunk)
        found.update({row["event_id"]: row for row in rows})
    return found


def annotate(store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``final_outcome``, ``decided_by``, ``decided_at`` and ``outcome_source`` to exam rows.

    ``decided_by`` is the medic's name for a medic's decision and ``"kiosk"`` for a pre-decision
    (the envelope's own convention, firmware_bridges.contract ``decided_by``); ``decided_at`` is
    then the time the kiosk finished the exam.
    """
    decisions = latest_decisions(store, (row["event_id"] for row in rows))
    for row in rows:
        decision = decisions.get(row["event_id"])
        if decision is not None:
            row.update(final_outcome=decision["decision"], decided_by=decision["medic"],
                       decided_at=decision["decided_at"], outcome_source="medic")
        else:
            row.update(final_outcome=row["outcome"], decided_by="kiosk", decided_at=row.get("finished_at"),
                       outcome_source="kiosk")
    return rows
