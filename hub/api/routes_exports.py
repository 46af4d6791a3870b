"""Exports (issue 14; docs/exports.md): the exam journal, FHIR R4, the seed 003/004 report tables.

Roles (architecture.md "Privacy and roles"): the journal and FHIR carry individual medical values,
so they need the ``medic`` role and every export is audited with the event ids it contained
(323-FZ art. 13); OHS and admin get 403. The risk-group and reproductive reports are aggregates:
``ohs``, ``medic`` and ``admin`` may fetch them, and for OHS and admin the small cells are hidden
(hub.analytics.privacy, ``privacy.min_cell_size``) exactly as in ``GET /api/v1/risk-groups/report``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from hub import risk_assessments
from hub.analytics import privacy
from hub.analytics.settings import settings_for_hub
from hub.api.deps import ERRORS, MAX_OFFSET, Caller, get_store, require
from hub.exports import fhir, journal, pdf, reports, source, tabular
from hub.exports.fonts import FontMissing
from hub.store import Store

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=ERRORS)
as_medic = require("medic")
aggregate_roles = require("ohs", "medic", "admin")

#: Most exams one journal export holds; a longer period is refused with a clear 422 (split it).
#: A design default: five times the 10 000 that bench/exports.py holds to under 5 s (~8 000 PDF pages).
JOURNAL_MAX_EXAMS = 50_000
#: Exams per FHIR Bundle page (``limit``); a ``next`` link gives the rest.
FHIR_MAX_EXAMS = 500
FHIR_JSON = "application/fhir+json"


def _aware(moment: datetime, tz) -> datetime:
    """A time without an offset is read in the hub's analytics time zone (the site's clock)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _tz(request: Request):
    return settings_for_hub(request.app.state.config).tz


def _period(request: Request, since: datetime, until: datetime | None) -> tuple[datetime, datetime]:
    tz = _tz(request)
    try:  # both in UTC, as stored times are compared; the ends of the calendar cannot be moved there
        start = _aware(since, tz).astimezone(timezone.utc)
        end = _aware(until, tz).astimezone(timezone.utc) if until is not None else datetime.now(timezone.utc)
    except OverflowError:
        raise HTTPException(422, {"message": "since/until lie outside the years 1–9999 in UTC",
                                  "field": "since"}) from None
    if end <= start:
        raise HTTPException(422, {"message": "until must be after since", "field": "until"})
    return start, end


def _exam_types(exam_type: str) -> tuple[str, ...]:
    try:
        return journal.journal_types(exam_type)
    except ValueError as error:
        raise HTTPException(422, {"message": str(error), "field": "exam_type"}) from None


def _attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    body = content.encode("utf-8") if isinstance(content, str) else content
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _pdf(document: pdf.Document) -> bytes:
    try:
        return pdf.render(document)
    except FontMissing as error:
        raise HTTPException(503, str(error)) from None


@router.get("/journal", summary="The exam journal (reference.md §1.6: 13 columns) as CSV or PDF (medic; audited)",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/pdf": {}},
                             "description": "the journal; one row per exam, oldest first"}})
def journal_export(
    request: Request,
    since: datetime = Query(description="exams finished at or after (ISO 8601; without offset: the hub's time zone)"),
    until: datetime | None = Query(None, description="finished before (default: now)"),
    exam_type: str = Query(description="journal: pre (pre-shift + pre-trip), post (post-shift + post-trip), "
                                       "in_shift, or one exam type"),
    site: str | None = Query(None, max_length=64, description="one site; default: every site"),
    format: Literal["csv", "pdf"] = Query("csv"),
    lang: Literal["ru", "en"] = Query("ru", description="column titles and texts"),
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> Response:
    start, end = _period(request, since, until)
    types = _exam_types(exam_type)
    total = source.count_exams(store, since=start, until=end, exam_types=types, site=site)
    if total > JOURNAL_MAX_EXAMS:
        raise HTTPException(422, {"message": f"the period holds {total} exams; one journal export holds at most "
                                             f"{JOURNAL_MAX_EXAMS}: split the period", "field": "since"})
    exams = source.exams_in_period(store, since=start, until=end, exam_types=types, site=site, limit=total or 1)
    tz = _tz(request)
    rows = journal.rows(exams, tz, lang)
    store.audit(caller.name, caller.role, "export_journal", f"{len(exams)} exam records",
                {"event_ids": [e.event_id for e in exams], "format": format, "query": str(request.url.query)})
    name = journal.journal_of(exam_type)
    stem = f"journal-{name}-{site or 'all'}-{start.astimezone(tz):%Y%m%d}-{end.astimezone(tz):%Y%m%d}"
    if format == "csv":
        return _attachment(tabular.csv_text(journal.column_titles(lang), rows), "text/csv; charset=utf-8",
                           f"{stem}.csv")
    ru = lang == "ru"
    title = journal.TITLES[name][0 if ru else 1]
    period = f"{start.astimezone(tz):%d.%m.%Y %H:%M} — {end.astimezone(tz):%d.%m.%Y %H:%M} ({tz.key})"
    header = [f"{'Период' if ru else 'Period'}: {period}",
              f"{'Площадка' if ru else 'Site'}: {site or ('все площадки' if ru else 'all sites')}; "
              f"{'осмотров' if ru else 'exams'}: {len(exams)}",
              f"{'Выгружено' if ru else 'Exported'}: {datetime.now(tz):%d.%m.%Y %H:%M}, {caller.name}"]
    document = pdf.Document(title, header, [pdf.Section(None, journal.column_titles(lang), rows, journal.PDF_WIDTHS)],
                            footer=title, page_label="Страница {page} из {pages}" if ru else "Page {page} of {pages}",
                            empty_text="Записей за период нет." if ru else "No exams in the period.")
    return _attachment(_pdf(document), "application/pdf", f"{stem}.pdf")


def _fhir_response(bundle) -> Response:
    return Response(bundle.model_dump_json(), media_type=FHIR_JSON)


@router.get("/exams/{event_id}/fhir", summary="One exam as a FHIR R4 Bundle (medic; audited)",
            response_class=Response, responses={200: {"content": {FHIR_JSON: {}}}})
def exam_fhir(event_id: str, store: Store = Depends(get_store), caller: Caller = Depends(as_medic)) -> Response:
    exam = source.exam_by_event_id(store, event_id)
    if exam is None:
        raise HTTPException(404, f"no exam with event id {event_id}")
    result = fhir.bundle([exam])
    store.audit(caller.name, caller.role, "export_fhir", f"worker {exam.row['worker_id']}", {"event_id": event_id})
    return _fhir_response(result)


@router.get("/fhir/Bundle", summary="The exams of a period as a FHIR R4 Bundle, paged (medic; audited)",
            response_class=Response, responses={200: {"content": {FHIR_JSON: {}}}})
def period_fhir(
    request: Request,
    since: datetime = Query(description="exams finished at or after (ISO 8601)"),
    until: datetime | None = Query(None, description="finished before (default: now)"),
    site: str | None = Query(None, max_length=64),
    exam_type: str = Query("pre", description="as for the journal: pre, post, in_shift or one exam type"),
    limit: int = Query(100, ge=1, le=FHIR_MAX_EXAMS, description="exams in this Bundle"),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    store: Store = Depends(get_store),
    caller: Caller = Depends(as_medic),
) -> Response:
    start, end = _period(request, since, until)
    types = _exam_types(exam_type)
    exams = source.exams_in_period(store, since=start, until=end, exam_types=types, site=site, limit=limit + 1,
                                   offset=offset)
    more = len(exams) > limit
    del exams[limit:]
    next_url = str(request.url.include_query_params(offset=offset + limit)) if more else None
    result = fhir.bundle(exams, next_url=next_url)
    if exams:
        store.audit(caller.name, caller.role, "export_fhir", f"{len(exams)} exam records",
                    {"event_ids": [e.event_id for e in exams], "query": str(request.url.query)})
    return _fhir_response(result)


class ReportQuery:
    """The query of both reports: the years and the format, and the privacy view of the caller."""

    def __init__(self, request: Request,
                 since_year: int | None = Query(None, ge=1990, le=2200),
                 until_year: int | None = Query(None, ge=1990, le=2200),
                 format: Literal["csv", "pdf"] = Query("pdf"),
                 caller: Caller = Depends(aggregate_roles)):
        self.since_year, self.until_year, self.format, self.caller = since_year, until_year, format, caller
        #: small-cell threshold for OHS and admin; None for the medic (unchanged figures)
        self.min_cell = None if caller.role == "medic" else request.app.state.config.privacy.min_cell_size

    def header(self, counts: str, source_text: str) -> list[str]:
        view = ("Вид: медицинский (без скрытия)" if self.min_cell is None
                else "Вид: агрегированный, малые ячейки скрыты")
        return [f"Годы: {self.since_year or 'все'} — {self.until_year or 'все'}", counts,
                f"{view}. Источник: {source_text}"]

    def respond(self, title: str, header: list[str], sections: list[pdf.Section], stem: str) -> Response:
        if self.format == "csv":
            return _attachment(tabular.sections_csv(sections), "text/csv; charset=utf-8", f"{stem}.csv")
        return _attachment(_pdf(pdf.Document(title, header, sections, footer=title)), "application/pdf",
                           f"{stem}.pdf")


REPORT_RESPONSES = {200: {"content": {"text/csv": {}, "application/pdf": {}}, "description": "the report"}}


@router.get("/reports/risk-groups", summary="Seed 004 final report: enterprise table, average score, dynamics "
                                            "(CSV or PDF; aggregates; ohs, medic, admin)",
            response_class=Response, responses=REPORT_RESPONSES)
def risk_group_report(query: ReportQuery = Depends(), store: Store = Depends(get_store)) -> Response:
    result = risk_assessments.report(store, since_year=query.since_year, until_year=query.until_year)
    if query.min_cell is not None:
        result = privacy.protect("risk-group-report", result, query.min_cell)
    title = "Итоговый отчёт о группах риска развития профессиональных заболеваний"
    header = query.header(f"Работников: {result['workers']}; оценок: {result['assessments']}", result["source"])
    return query.respond(title, header, reports.risk_group_sections(result), "risk-groups-report")


@router.get("/reports/reproductive", summary="Seed 003 reproductive-health classes and programme table from the "
                                             "stored assessments (CSV or PDF; aggregates; ohs, medic, admin)",
            response_class=Response, responses=REPORT_RESPONSES)
def reproductive_report(query: ReportQuery = Depends(), store: Store = Depends(get_store)) -> Response:
    assessments = source.latest_assessments(store, since_year=query.since_year, until_year=query.until_year)
    data = reports.reproductive(assessments, min_cell=query.min_cell)
    title = "Оценка риска нарушения репродуктивного здоровья работниц и программа профилактики"
    header = query.header(f"Оценок групп риска: {len(assessments)}", data["source"])
    return query.respond(title, header, reports.reproductive_sections(data), "reproductive-report")
