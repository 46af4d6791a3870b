"""Model runs for ``POST /api/v1/models/*``, off the API's event loop and threads.

A :class:`ModelPool` is a small process pool (``[models_api] workers``): a model run cannot
slow ``/api/v1/health`` or the ingest down by holding the interpreter, and a run that passes
``timeout_s`` is stopped by killing its worker (the pool is then started anew; starting the
workers, about a second, has its own ``startup_timeout_s``). At most ``workers + queue`` runs are
in progress or waiting; the next is refused at once (503).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from fastapi import HTTPException

from hub.config import ModelsApiSection
from hub.models.registry import load_all, model_names, run_model_json


class ModelPool:
    def __init__(self, settings: ModelsApiSection):
        self.settings = settings
        self._executor: ProcessPoolExecutor | None = None
        self._started: list = []  # one first task per worker: done when the workers have loaded the models
        self._lock = threading.Lock()
        self._busy = 0

    def _pool(self) -> tuple[ProcessPoolExecutor, list]:
        with self._lock:
            if self._executor is None:  # started on first use: an API that runs no model starts no process
                self._executor = ProcessPoolExecutor(self.settings.workers, initializer=load_all,
                                                     mp_context=multiprocessing.get_context("spawn"))
                self._started = [self._executor.submit(model_names) for _ in range(self.settings.workers)]
            return self._executor, self._started

    def _take_slot(self) -> None:
        limit = self.settings.workers + self.settings.queue
        with self._lock:
            if self._busy >= limit:
                raise HTTPException(503, f"the model workers are busy: {self._busy} runs in progress or waiting, "
                                         f"at most {limit} (models_api.workers + models_api.queue); retry later",
                                    headers={"Retry-After": "5"})
            self._busy += 1

    def _free_slot(self) -> None:
        with self._lock:
            self._busy -= 1

    async def run(self, name: str, body: bytes) -> dict:
        """The model's result for the JSON ``body``; ModelInputError for bad input, HTTP 503/504 otherwise."""
        self._take_slot()
        try:
            executor = await self._ready()
            future = executor.submit(run_model_json, name, body, max_items=self.settings.max_items)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.settings.timeout_s)
            except asyncio.TimeoutError:
                if not future.cancelled():  # a waiting run is just dropped; a running one is killed
                    self.restart()
                raise HTTPException(504, f"no result within {self.settings.timeout_s:g} s (models_api.timeout_s); "
                                         "the run was stopped") from None
        except BrokenProcessPool:
            self.restart()
            raise HTTPException(503, "the model worker stopped (a run was over time or out of memory); "
                                     "retry", headers={"Retry-After": "1"}) from None
        finally:
            self._free_slot()

    async def _ready(self) -> ProcessPoolExecutor:
        """The pool, once its workers have started (which does not count in a run's timeout)."""
        executor, started = self._pool()
        try:
            await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, started)), self.settings.startup_timeout_s)
        except asyncio.TimeoutError:
            self.restart()
            raise HTTPException(504, f"the model workers did not start within {self.settings.startup_timeout_s:g} s "
                                     "(models_api.startup_timeout_s)") from None
        return executor

    def restart(self) -> None:
        """Kill the workers (a timed-out run would otherwise go on); the next run starts a new pool."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            # Python 3.11 has no public way to stop a running task (3.14 adds kill_workers()).
            for process in list((executor._processes or {}).values()):
                process.kill()
            executor.shutdown(wait=False, cancel_futures=True)

    close = restart  # at shutdown, too: a model run has nothing to save
