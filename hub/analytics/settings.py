"""Settings of the hub's live analytics (the background runner and the SQL → model adapters).

Where they come from, first match wins:

1. an ``analytics`` section of the hub configuration, if the hub's config model has one;
2. the TOML file named by ``$OHS_ANALYTICS_CONFIG`` (example: ``configs/analytics.example.toml``);
3. the defaults below.

Every default is a design default of this project (grade D) unless its description cites a
source; ``docs/ohs-analytics.md`` explains each.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from firmware_bridges.configfile import ConfigError, load_toml_model

ENV_VAR = "OHS_ANALYTICS_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RtSettings(_Section):
    si_mean_days: float = Field(
        default=2.6, gt=1,
        description="mean serial interval of a febrile (influenza-like) illness; 2.6 d / sd 1.5 d is the "
                    "influenza example of EpiEstim (reference.md §6.4)")
    si_sd_days: float = Field(default=1.5, gt=0)
    window_days: int = Field(default=7, ge=2, le=60, description="sliding window (EpiEstim default weekly)")
    burn_in_days: int | None = Field(
        default=None, ge=0, le=60,
        description="first days used only as infectivity history, never as a window start; None = the day the "
                    "serial interval's cumulative distribution reaches 95 % (D)")
    case_temperature_c: float | None = Field(
        default=37.5, ge=35, le=42,
        description="a worker-day is a case for Rt at or above this temperature; 37.5 °C sits above the scatter "
                    "of healthy readings (36.6 ± 0.25 °C reaches epi.toml's 37.1 in about 3 % of exams, which would "
                    "swamp the incidence with non-cases; D); None = epi.toml's febrile threshold")
    episode_gap_days: int = Field(
        default=7, ge=1, le=60,
        description="a febrile worker-day starts a new case only if the worker had no febrile day in this many "
                    "preceding days (Rt needs incident cases, not prevalent ones; D)")


class AnalyticsSettings(_Section):
    enabled: bool = Field(default=True, description="run the background recomputation")
    interval_s: float = Field(default=60.0, ge=0.2, le=86400, description="seconds between recomputations")
    lookback_days: int = Field(default=31, ge=1, le=3660,
                               description="default period: this many days up to the newest data")
    timezone: str = Field(default="UTC", description="IANA zone whose calendar days and clock the analytics use")
    workplaces: list[Path] = Field(default_factory=list,
                                   description="roster TOML files loaded into the workplaces table at start")
    noise_interval_minutes: float = Field(default=60.0, gt=0, le=1440,
                                          description="interval of the per-interval equivalent level")
    exposed_threshold_db: float = Field(
        default=80.0, gt=0, le=200,
        description="a worker whose mean L_EX,8h is above this is 'exposed' in the noise comparisons "
                    "(80 dBA workplace limit, reference.md §4.2, C)")
    min_worker_days: int = Field(default=3, ge=1, description="worker-days a worker needs to enter a comparison")
    rt: RtSettings = RtSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_analytics_settings(path: str | Path | None = None) -> AnalyticsSettings:
    """Settings from ``path``, else ``$OHS_ANALYTICS_CONFIG``, else the defaults (ConfigError on a bad file)."""
    path = path or os.environ.get(ENV_VAR)
    if not path:
        return AnalyticsSettings()
    settings = load_toml_model(path, AnalyticsSettings)
    base = Path(path).resolve().parent
    # roster paths in the file are relative to the file, like every other path a person writes there
    settings.workplaces = [p if p.is_absolute() else base / p for p in settings.workplaces]
    return settings


def settings_for_hub(hub_config) -> AnalyticsSettings:
    """The analytics settings of a hub: its config's ``analytics`` section, else the file/env/defaults."""
    section = getattr(hub_config, "analytics", None)
    if isinstance(section, AnalyticsSettings):
        return section
    if isinstance(section, dict):
        return AnalyticsSettings.model_validate(section)
    return load_analytics_settings()


__all__ = ["AnalyticsSettings", "RtSettings", "load_analytics_settings", "settings_for_hub", "ConfigError", "ENV_VAR"]
