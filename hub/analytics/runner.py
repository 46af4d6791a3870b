"""The analyses by name, computing one on demand, and the background runner that keeps them fresh.

:data:`ANALYSES` maps a name to its function and the parameters it accepts. :func:`compute`
resolves the period and runs one; :class:`AnalyticsRunner` recomputes every analysis with its
default parameters every ``interval_s`` seconds into ``analytics_results`` and turns the results
into de-duplicated rows of ``alarms``, so the dashboard and the API read precomputed results.

The runner computes in its own process (``multiprocessing``, spawn) that reads the SQLite file
through read-only connections (:class:`hub.store.ReadOnlyStore`); the hub's process only writes each
result and its alarms, in one short transaction per analysis. A pass therefore never holds the hub's
store lock (nor the GIL of the ingest and the API) while it computes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from hub.analytics import alarms as alarm_rules
from hub.analytics.epidemiology import febrile_rt, hypertension_noise, kiosk_rates
from hub.analytics.noise import worker_noise, zone_noise
from hub.analytics.period import Period, newest_data_day, resolve_period
from hub.analytics.schema import ensure_schema
from hub.analytics.settings import AnalyticsSettings
from hub.analytics.smoke import smoke_violations
from hub.analytics.workplaces import load_workplaces_file

log = logging.getLogger(__name__)


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
    text = json.dumps(result, ensure_ascii=False, default=str)  # serialised before the lock is taken
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


# ---------------------------------------------------------------------- the computing process

def _default_period(store, settings: AnalyticsSettings) -> Period:
    """The period of a pass with default parameters (what :func:`compute` resolves with no dates)."""
    day = newest_data_day(store, settings.tz)
    return resolve_period(store, settings.tz, settings.lookback_days, None, day or datetime.now(settings.tz).date())


def _worker_main(channel, db_path: str) -> None:
    """The analytics process: for each ``("run", settings, names)`` request, compute the analyses
    one by one on read-only connections and send ``("result", name, result, duration_s)`` or
    ``("error", name, message, traceback)`` for each, then ``("done",)``. ``None`` ends it."""
    from hub.store import ReadOnlyStore

    store = ReadOnlyStore(db_path)
    try:
        while True:
            try:
                request = channel.recv()
            except (EOFError, OSError):
                return
            if request is None:
                return
            _, settings, names = request
            try:
                period = _default_period(store, settings)
            except Exception as error:  # noqa: BLE001 — every analysis then fails with this reason
                period, failure = None, (f"{type(error).__name__}: {error}", traceback.format_exc())
            for name in names:
                began = time.monotonic()
                if period is None:
                    channel.send(("error", name, *failure))
                    continue
                try:
                    result = ANALYSES[name].function(store, settings, period)
                except Exception as error:  # noqa: BLE001 — one broken analysis must not stop the others
                    channel.send(("error", name, f"{type(error).__name__}: {error}", traceback.format_exc()))
                    continue
                try:
                    channel.send(("result", name, result, time.monotonic() - began))
                except (OSError, EOFError):  # the hub is gone
                    return
                except Exception as error:  # noqa: BLE001 — a result that cannot travel fails alone
                    channel.send(("error", name, f"result not transferable: {type(error).__name__}: {error}",
                                  traceback.format_exc()))
            channel.send(("done",))
    finally:
        store.close()


class _Worker:
    """The runner's computing process and the parent's end of its pipe."""

    def __init__(self, db_path: str):
        context = multiprocessing.get_context("spawn")
        self.channel, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, db_path), name="hub-analytics-worker",
                                       daemon=True)
        self.process.start()
        child.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def shutdown(self, timeout: float = 5.0) -> None:
        try:
            self.channel.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
        self.channel.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def _shutdown_worker(holder: dict) -> None:
    worker = holder.pop("worker", None)
    if worker is not None:
        worker.shutdown(timeout=2.0)


class _Interrupted(Exception):
    """The runner was stopped while its process computed."""


class AnalyticsRunner:
    """Recomputes every analysis every ``settings.interval_s`` seconds: a thread of the hub asks the
    analytics process (spawned on first use, respawned if it dies) for a pass and writes what it
    sends back; the computation itself never runs in the hub's process nor under its store lock."""

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
        self._holder: dict[str, _Worker] = {}  # the process, shut down with the runner (or when it is collected)
        self._finalizer = weakref.finalize(self, _shutdown_worker, self._holder)
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
        if self._run_lock.acquire(timeout=timeout):  # no pass in progress: end the process politely
            try:
                _shutdown_worker(self._holder)
            finally:
                self._run_lock.release()
        else:  # a pass started outside the thread still runs: end its process (it reports the failure)
            _kill_worker(self._holder)

    def trigger(self) -> None:
        """Recompute now instead of waiting for the interval."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def worker_pid(self) -> int | None:
        """The process id of the analytics process (None before the first pass)."""
        worker = self._holder.get("worker")
        return worker.process.pid if worker is not None and worker.alive else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.settings.interval_s)
            self._wake.clear()

    def _worker(self) -> _Worker:
        worker = self._holder.get("worker")
        if worker is None or not worker.alive:
            if worker is not None:
                worker.kill()
            worker = self._holder["worker"] = _Worker(self.store.target)
        return worker

    def _receive(self, worker: _Worker):
        """The next message of the process; _Interrupted when the runner's thread is told to stop."""
        while not worker.channel.poll(0.1):
            if self._stop.is_set() and self._thread is not None:
                raise _Interrupted()
            if not worker.alive and not worker.channel.poll(0):
                raise EOFError(f"the analytics process exited (code {worker.process.exitcode})")
        return worker.channel.recv()

    def run_once(self) -> dict[str, Any]:
        """Compute every analysis with default parameters, store the results, upsert the alarms.

        A failing analysis is logged and reported in ``errors``; the others still run. The
        computation runs in the analytics process; this thread only writes what it sends.
        """
        with self._run_lock:
            summary: dict[str, Any] = {"started_at": datetime.now(timezone.utc).isoformat(), "analyses": {},
                                       "new_alarms": 0}
            pending = list(ANALYSES)
            try:
                worker = self._worker()
                worker.channel.send(("run", self.settings, pending))
                while True:
                    message = self._receive(worker)
                    if message[0] == "done":
                        break
                    self._take(message, summary)
                    pending.remove(message[1])
            except _Interrupted:  # stopping mid-pass: the computation is read-only, so it is simply ended
                _kill_worker(self._holder)
            except (EOFError, OSError, BrokenPipeError) as error:  # the process died (killed, out of memory)
                _kill_worker(self._holder)
                reason = f"analytics process failed: {type(error).__name__}: {error}"
                log.error("%s; it is started again for the next pass", reason)
                for name in pending:
                    self.errors[name] = reason
                    summary["analyses"][name] = {"ok": False, "error": reason}
            self.runs += 1
            self.last_run = summary
            return summary

    def _take(self, message: tuple, summary: dict[str, Any]) -> None:
        """Write one analysis's outcome: its result (one short transaction) and its alarms (another)."""
        kind, name = message[0], message[1]
        if kind == "result":
            result, duration = message[2], message[3]
            try:
                save_result(self.store, name, {}, result, duration)
                spec = ANALYSES[name]
                if spec.alarms is not None:
                    summary["new_alarms"] += alarm_rules.upsert(self.store, spec.alarms(result))
                self.errors.pop(name, None)
                summary["analyses"][name] = {"ok": True, "duration_s": round(duration, 3)}
                return
            except Exception as error:  # noqa: BLE001 — a failed write is that analysis's failure
                log.exception("storing analysis %s failed", name)
                self.errors[name] = f"{type(error).__name__}: {error}"
        else:
            log.error("analysis %s failed:\n%s", name, message[3])
            self.errors[name] = message[2]
        summary["analyses"][name] = {"ok": False, "error": self.errors[name]}


def _kill_worker(holder: dict) -> None:
    worker = holder.pop("worker", None)
    if worker is not None:
        worker.kill()
        worker.channel.close()

