"""What differs between the back ends, checked on both: a reader never blocks the writer, the retention
task runs on PostgreSQL too, and what is not available there is refused clearly at start."""

from __future__ import annotations

import threading
import time

from firmware_bridges.contract import make_envelope
from hub.config import HubConfig
from hub.service import HubService
from hub.store import Store, utc_now
from tests.foundation.helpers import exam_body


def test_a_long_read_never_delays_a_commit(hub_store_url):
    store = Store(hub_store_url)
    sleep = "SELECT pg_sleep(3)" if store.backend == "postgresql" else (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n")
    try:
        store.commit_batch([(make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 1, incarnation="i"),
                             utc_now())], [])
        reading = threading.Thread(target=lambda: store.query(f"SELECT (SELECT count(*) FROM exams), ({sleep})"))
        reading.start()
        time.sleep(0.3)  # the read is running, inside its snapshot
        began = time.monotonic()
        result = store.commit_batch([(make_envelope("plant-1", "kiosk-01", "exam", exam_body(), 2, incarnation="i"),
                                      utc_now())], [])
        took = time.monotonic() - began
        assert reading.is_alive(), "the read ended before the commit: the test proves nothing"
        reading.join()
        assert len(result.stored) == 1 and took < 1.0, f"the commit waited {took:.2f} s for a reader"
    finally:
        store.close()


def test_retention_runs_on_postgresql_too(postgres_server, tmp_path):
    """Roll-ups and retention no longer walk SQLite row ids (hub.retention): the hub starts with them."""
    config = HubConfig.model_validate({"storage": {"path": str(tmp_path / "hub.db"),
                                                   "url": postgres_server.create_database()},
                                       "retention": {}})
    service = HubService(config)
    try:
        assert service.retention is not None and service.retention.store.backend == "postgresql"
        assert service.retention.run_once()["rolled_up"] == 0
    finally:
        service.store.close()


def test_capped_counts_estimates_and_sequence_ranges_agree_on_both(hub_store_url):
    from tests.store_scale.ss_helpers import commit_exams

    store = Store(hub_store_url)
    try:
        commit_exams(store, [*range(1, 31), *range(40, 51)])
        assert store.count_capped("exams") == (41, True)
        assert store.count_capped("exams", "WHERE seq > ?", [25], cap=10) == (11, False)
        store.refresh_statistics()
        assert store.approximate_rows("exams") == 41
        assert store.estimate_count("exams", {"kiosk": "kiosk-01"}, "finished_at") == 41
        assert store.sequence_ranges("plant-1", "kiosk-01", "") == [(1, 30), (40, 50)]
    finally:
        store.close()
