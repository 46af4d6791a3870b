"""Alarms from the analyses, de-duplicated in the ``alarms`` table.

Each alarm has a kind and a key that names what it is about; recomputing finds the same key and
only refreshes ``last_seen`` and the details, so the dashboard never shows one problem twice:

* ``noise_over_limit`` — key site|zone|day: a zone had at least one interval above its limit;
* ``rt_warning`` — key site|day the warning was raised: Rt's lower 95 % bound above 1 for two
  consecutive windows (a new key only after the warning has lapsed and comes back);
* ``smoke_violation`` — key site|location|start: a violation in a smoke-free location.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from hub.analytics.schema import ensure_schema

KINDS = ("noise_over_limit", "rt_warning", "smoke_violation")


def noise_alarms(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in result.get("alarms", []):
        name_ru = a.get("name_ru") or a["zone"]
        name_en = a.get("name_en") or a["zone"]
        out.append({
            "kind": "noise_over_limit", "key": f"{a['site']}|{a['zone']}|{a['date']}", "site": a["site"],
            "location": a["zone"], "day": a["date"], "severity": "alarm",
            "message_ru": f"Шум в зоне «{name_ru}» {a['date']}: {a['intervals_over_limit']} интервал(ов) выше "
                          f"предела {a['limit_db']:g} дБА, максимум {a['max_interval_db']:.1f} дБА",
            "message_en": f"Noise in zone '{name_en}' on {a['date']}: {a['intervals_over_limit']} interval(s) above "
                          f"the {a['limit_db']:g} dBA limit, highest {a['max_interval_db']:.1f} dBA",
            "details": a,
        })
    return out


def rt_alarms(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for site in result.get("sites", []):
        for ep in (site.get("early_warning") or {}).get("episodes", []):
            out.append({
                "kind": "rt_warning", "key": f"{site['site']}|{ep['raised_on']}", "site": site["site"],
                "location": None, "day": ep["raised_on"], "severity": "warning",
                "message_ru": f"Площадка {site['site']}: нижняя граница Rt по лихорадящим работникам выше 1 "
                              f"два окна подряд (с {ep['raised_on']} по {ep['until']})",
                "message_en": f"Site {site['site']}: the lower bound of Rt of febrile workers is above 1 for two "
                              f"consecutive windows ({ep['raised_on']} to {ep['until']})",
                "details": {**ep, "rule": site["early_warning"]["rule"]},
            })
    return out


def smoke_alarms(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for site in result.get("sites", []):
        for v in site.get("violations", []):
            day = v["start"][:10]
            out.append({
                "kind": "smoke_violation", "key": f"{site['site']}|{v['location']}|{v['start']}", "site": site["site"],
                "location": v["location"], "day": day, "severity": "alarm",
                "message_ru": f"Курение в некурящей зоне «{v['location']}» {v['start'][:16].replace('T', ' ')} "
                              f"({v['alarms']} сигнал(ов): {', '.join(v['sources'])})",
                "message_en": f"Smoking in smoke-free location '{v['location']}' at "
                              f"{v['start'][:16].replace('T', ' ')} ({v['alarms']} alarm(s): {', '.join(v['sources'])})",
                "details": v,
            })
    return out


def upsert(store, alarms: list[dict[str, Any]]) -> int:
    """Insert new alarms, refresh known ones; returns how many were new."""
    ensure_schema(store)
    now = datetime.now(timezone.utc).isoformat()
    new = 0
    with store.lock:
        conn = store.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for a in alarms:
                exists = conn.execute("SELECT 1 FROM alarms WHERE kind = ? AND key = ?", (a["kind"], a["key"])).fetchone()
                conn.execute(
                    "INSERT INTO alarms (kind, key, site, location, day, severity, first_seen, last_seen, message_ru, "
                    "message_en, details) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(kind, key) DO UPDATE SET "
                    "last_seen = excluded.last_seen, details = excluded.details, message_ru = excluded.message_ru, "
                    "message_en = excluded.message_en, severity = excluded.severity",
                    (a["kind"], a["key"], a["site"], a["location"], a["day"], a["severity"], now, now,
                     a["message_ru"], a["message_en"], json.dumps(a["details"], ensure_ascii=False, default=str)))
                new += exists is None
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise
    return new


def read(store, kind: str | None = None, site: str | None = None, date_from: str | None = None,
         date_to: str | None = None, limit: int = 500, offset: int = 0,
         conditions: tuple[str, ...] = ()) -> dict[str, Any]:
    """Alarms newest day first; ``conditions`` are further SQL tests on the ``alarms`` row (no parameters)."""
    ensure_schema(store)
    where, params = list(conditions), []
    for column, value in (("kind", kind), ("site", site)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if date_from is not None:
        where.append("day >= ?")
        params.append(date_from)
    if date_to is not None:
        where.append("day <= ?")
        params.append(date_to)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = store.scalar(f"SELECT count(*) FROM alarms {clause}", params)
    rows = store.query(f"SELECT * FROM alarms {clause} ORDER BY day DESC, id DESC LIMIT ? OFFSET ?",
                       [*params, limit, offset])
    for r in rows:
        r["details"] = json.loads(r["details"])
    by_kind = {r["kind"]: r["n"] for r in store.query(f"SELECT kind, count(*) AS n FROM alarms {clause} GROUP BY kind",
                                                      params)}
    return {"items": rows, "total": total, "by_kind": by_kind, "limit": limit, "offset": offset}
