"""The analyses by name, computing one on demand, and the background runner that keeps them fresh.

:data:`ANALYSES` maps a name to its function and the parameters it accepts. :func:`compute`
resolves the period and runs one; :class:`AnalyticsRunner` recomputes every analysis with its
default parameters every ``interval_s`` seconds into ``analytics_results`` and turns the results
into de-duplicated rows of ``alarms``, so the dashboard and the API read precomputed results.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from hub.analytics import alarms as alarm_rules
from hub.analytics.epidemiology import febrile_rt, hypertension_noise, kiosk_rates
from hub.analytics.noise import worker_noise, zone_noise
from hub.analytics.period import resolve_period
from hub.analytics.schema import ensure_schema
from hub.analytics.settings import AnalyticsSettings
from hub.analytics.smoke import smoke_violations
from hub.analytics.workplaces import load_workplaces_file

log = logging.getLogger("hub.analytics")


@dataclass(frozen=True)
class Analysis:
    function: Callable[..., dict]
    params: tuple[str, ...]  # besides date_from, date_to
    alarms: Callable[[dict], list[dict]] | None = None


ANALYSES: dict[str, Analysis] = {
    "noise-zones": Analysis(zone_noise, ("site", "zone", "detail"), alarm_rules.noise_alarms),
    "noise-workers": Analysis(worker_noise, ("site", "worker", "detail")),
    "smoke-violations": Analysis(smoke_violations, ("site", "report_period"), alarm_rules.smoke_alarms),
    "epi-kiosk": Analysis(kiosk_rates, ("site",)),
    "rt-febrile": Analysis(febrile_rt, ("site",), alarm_rules.rt_alarms),
    "compare-hypertension-noise": Analysis(hypertension_noise, ("site",)),
}


def canonical(params: dict[str, Any]) -> str:
    """The parameter set as a stable key: None and False dropped, dates as ISO text, keys sorted."""
    clean = {k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
             for k, v in params.items() if v is not None and v is not False}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False)


def compute(store, settings: AnalyticsSettings, name: str, params: dict[str, Any] | None = None) -> dict:
    """Run one analysis now. Raises KeyError for an unknown name, PeriodError/ValueError for bad params."""
    spec = ANALYSES[name]
    params = dict(params or {})
    unknown = set(params) - set(spec.params) - {"date_from", "date_to"}
    if unknown:
        raise ValueError(f"{name} does not take {', '.join(sorted(unknown))}")
    ensure_schema(store)
    period = resolve_period(store, settings.tz, settings.lookback_days, params.pop("date_from", None),
                            params.pop("date_to", None))
    return spec.function(store, settings, period, **{k: v for k, v in params.items() if v is not None})


def save_result(store, name: str, params: dict[str, Any], result: dict, duration_s: float) -> str:
    ensure_schema(store)
    computed_at = datetime.now(timezone.utc).isoformat()
    text = json.dumps(result, ensure_ascii=False, default=str)
    with store.lock:
        store.conn.execute(
            "INSERT INTO analytics_results (name, params, computed_at, duration_s, result) VALUES (?,?,?,?,?) "
            "ON CONFLICT(name, params) DO UPDATE SET computed_at = excluded.computed_at, "
            "duration_s = excluded.duration_s, result = excluded.result",
            (name, canonical(params), computed_at, duration_s, text))
    return computed_at


def read_result(store, name: str, params: dict[str, Any] | None = None) -> dict | None:
    """The stored result for (name, params): ``{"computed_at", "duration_s", "result"}`` or None."""
    ensure_schema(store)
    rows = store.query("SELECT computed_at, duration_s, result FROM analytics_results WHERE name = ? AND params = ?",
                       [name, canonical(params or {})])
    if not rows:
        return None
    return {"computed_at": rows[0]["computed_at"], "duration_s": rows[0]["duration_s"],
            "result": json.loads(rows[0]["result"])}


_RUNNERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def runner_for(store) -> "AnalyticsRunner | None":
    """The runner working on this store, if one was started (the API uses its settings)."""
    return _RUNNERS.get(store)


class AnalyticsRunner:
    """A thread that recomputes every analysis every ``settings.interval_s`` seconds."""

    def __init__(self, store, settings: AnalyticsSettings):
        self.store = store
        self.settings = settings
        self.errors: dict[str, str] = {}
        self.last_run: dict[str, Any] | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        ensure_schema(store)
        _RUNNERS[store] = self

    def load_workplaces(self) -> None:
        """Load the roster files named in the settings (ConfigError on a bad one)."""
        for path in self.settings.workplaces:
            roster = load_workplaces_file(self.store, path)
            log.info("loaded workplace roster of site %s from %s", roster.site, path)

    def start(self) -> "AnalyticsRunner":
        self.load_workplaces()
        if self.settings.enabled:
            self._thread = threading.Thread(target=self._loop, name="hub-analytics", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("analytics runner still busy after %.0f s at stop", timeout)

    def trigger(self) -> None:
        """Recompute now instead of waiting for the interval."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.settings.interval_s)
            self._wake.clear()

    def run_once(self) -> dict[str, Any]:
        """Compute every analysis with default parameters, store the results, upsert the alarms.

        A failing analysis is logged and reported in ``errors``; the others still run.
        """
        with self._run_lock:
            summary: dict[str, Any] = {"started_at": datetime.now(timezone.utc).isoformat(), "analyses": {},
                                       "new_alarms": 0}
            for name, spec in ANALYSES.items():
                if self._stop.is_set() and self._thread is not None:
                    break
                began = time.monotonic()
                try:
                    result = compute(self.store, self.settings, name, {})
                    duration = time.monotonic() - began
                    save_result(self.store, name, {}, result, duration)
                    if spec.alarms is not None:
                        summary["new_alarms"] += alarm_rules.upsert(self.store, spec.alarms(result))
                    self.errors.pop(name, None)
                    summary["analyses"][name] = {"ok": True, "duration_s": round(duration, 3)}
                except Exception as error:  # one broken analysis must not stop the others or the thread
                    log.exception("analysis %s failed", name)
                    self.errors[name] = f"{type(error).__name__}: {error}"
                    summary["analyses"][name] = {"ok": False, "error": self.errors[name]}
            self.runs += 1
            self.last_run = summary
            return summary
