"""Records that leave the hub in the forms regulators, clinics and employers read (issue 14).

* :mod:`hub.exports.journal` — the exam journal (reference.md §1.6: thirteen columns), CSV and PDF;
* :mod:`hub.exports.fhir` — an exam (or a period) as a FHIR R4 Bundle;
* :mod:`hub.exports.reports` — seed 004's final risk-group report and seed 003's programme table;
* :mod:`hub.exports.pdf` / :mod:`hub.exports.fonts` — the one PDF table layout (ReportLab) and its
  Debian fonts; :mod:`hub.exports.tabular` — the one CSV writer;
* :mod:`hub.exports.source` — the only reads of stored records this package makes.

Who may fetch what is decided in ``hub/api/routes_exports.py`` (docs/exports.md).
"""
