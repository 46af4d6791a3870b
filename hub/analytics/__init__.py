"""Live analytics of the hub: SQL over the store → the pure models → precomputed results and alarms.

Issue 7 ("Exposure and epidemiology from the live data"). Modules: :mod:`.sources` (read-only
SQL), :mod:`.noise`, :mod:`.smoke`, :mod:`.epidemiology` (adapters feeding ``hub.models``),
:mod:`.workplaces` (the roster), :mod:`.alarms`, :mod:`.runner` (background recomputation),
:mod:`.settings`, :mod:`.privacy` (small counts hidden from the non-medic roles, applied by the API). The API is ``hub/api/routes_analytics.py``; docs: ``docs/ohs-analytics.md``.
"""

from hub.analytics.runner import ANALYSES, AnalyticsRunner, compute, read_result, runner_for
from hub.analytics.settings import AnalyticsSettings, load_analytics_settings, settings_for_hub

__all__ = ["ANALYSES", "AnalyticsRunner", "AnalyticsSettings", "compute", "load_analytics_settings", "read_result",
           "runner_for", "settings_for_hub"]
