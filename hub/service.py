"""The running hub: store + MQTT ingest + HTTP API (uvicorn in a thread)."""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from firmware_bridges.ports import free_port, wait_listening
from hub.api import create_app
from hub.config import HubConfig
from hub.ingest import Ingest
from hub.store import DeadLetterPolicy, Store

log = logging.getLogger(__name__)


class HubService:
    """``worker``: this process's number among several ingest workers (``ingest.shared_group``);
    ``ingest_only``: only store and acknowledge (an extra worker: the API, analytics and retention run in
    worker 0)."""

    def __init__(self, config: HubConfig, *, with_api: bool = True, worker: int | None = None,
                 ingest_only: bool = False):
        self.config = config
        self.ingest_only = ingest_only
        self.store = Store(config.storage.target, synchronous=config.storage.synchronous,
                           trust_on_first_use=config.evidence.trust_on_first_use,
                           dead_letters=DeadLetterPolicy(**config.dead_letters.model_dump()))
        for entry in config.kiosks:
            self.store.register_key(entry.site, entry.kiosk, entry.public_key)
        self.ingest = Ingest(config, self.store, worker=worker)
        self.timeseries = None  # hub.timeseries.TimeseriesSink, when [timeseries] is configured
        if config.timeseries is not None and config.timeseries.enabled:
            from hub.timeseries import TimeseriesSink, queue_path_for

            queue = queue_path_for(config.timeseries, config.storage.path)
            if worker:  # each worker its own durable queue (one SQLite writer per file)
                queue = queue.with_name(f"{queue.stem}-w{worker}{queue.suffix}")
            self.timeseries = TimeseriesSink(config.timeseries, queue)
            self.ingest.telemetry_sinks.append(self.timeseries)
        self.retention = None  # hub.retention.Retention, when [retention] is configured
        if config.retention is not None and not ingest_only:  # SQLite or PostgreSQL (hub.retention)
            from hub.retention import Retention

            self.retention = Retention(self.store, config.retention)
        self.with_api = with_api and not ingest_only
        self.api_port: int | None = None
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.analytics = None  # hub.analytics.AnalyticsRunner, started with the service

    @property
    def url(self) -> str:
        return f"http://{self.config.api.host}:{self.api_port}"

    def start(self, connect_timeout: float | None = None) -> "HubService":
        if self.timeseries is not None:
            self.timeseries.start()
        self.ingest.start()
        if connect_timeout is not None and not self.ingest.wait_connected(connect_timeout):
            raise TimeoutError(f"hub could not reach the broker at {self.config.mqtt.host}:{self.config.mqtt.port}")
        if self.ingest_only:
            return self
        from hub.analytics import AnalyticsRunner, settings_for_hub

        self.analytics = AnalyticsRunner(self.store, settings_for_hub(self.config)).start()
        if self.retention is not None:
            raw_days = self.config.retention.raw_telemetry_days
            if raw_days and raw_days < self.analytics.settings.lookback_days:
                log.warning("raw telemetry is kept %d days, fewer than the analytics look back (%d days)", raw_days,
                            self.analytics.settings.lookback_days)
            self.retention.start()
        if self.with_api:
            self.api_port = self.config.api.port or free_port(self.config.api.host)
            app = create_app(self.config, self.store, self.ingest)
            server_config = uvicorn.Config(app, host=self.config.api.host, port=self.api_port,
                                           log_level="warning", access_log=False)
            self._server = uvicorn.Server(server_config)
            self._server_thread = threading.Thread(target=self._server.run, name="hub-api", daemon=True)
            self._server_thread.start()
            wait_listening(self.config.api.host, self.api_port, timeout=20)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server_thread.join(timeout=10)
        if self.analytics is not None:
            self.analytics.stop()
        if self.retention is not None:
            self.retention.stop()
        self.ingest.stop()
        if self.timeseries is not None:
            self.timeseries.stop()  # after the ingest: everything it offered goes to the durable queue
        self.store.close()

    def serve_forever(self) -> None:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
