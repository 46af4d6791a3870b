"""The kiosk runtime: KioskAgent + DeviceSupervisor + exam Workflow + screen + telemetry.

One asyncio loop holds the supervisor, the workflow and the screen's web server
(uvicorn); the agent's uplink runs its own threads (paho), and every durable write (journal
appends, the exams in progress, roster updates) runs off the loop — journal appends and the
exam state in order on the agent's writer thread (``KioskAgent.writer``), so a slow fsync
never freezes the screen or the BLE links. Wiring:

* the supervisor's health goes into every status message (``status_extra``), and a device
  that turns faulty becomes a ``device_fault`` event record;
* environmental readings (``on_environment``) are batched into one telemetry record every
  ``[environment] telemetry_every_s``; alarms (smoke, noise over the limit) become event
  records at once (at most one per device per ``alarm_repeat_s``);
* exams in progress are kept in the journal's file (``edge_agent.exam_state``) and resumed
  by the workflow when the kiosk starts again;
* the hub's ``cmd`` topic: ``roster_update`` updates the cached roster, ``medic_decision``
  is recorded as an event and shown on the screen; a command that cannot be applied is
  recorded as a ``command_rejected`` event with the reason (never silently dropped);
* the hub's retained ``config`` topic (docs/fleet.md): a valid message is stored beside the
  journal and applied whole — admission rule set and environmental thresholds — at once, or,
  when it changes the rule set while an exam is in progress, as soon as none is; the status
  reports the running version (``config_version``). An invalid one is a ``config_rejected``
  event and the kiosk keeps what it runs.

The kiosk TOML is the agent's (``edge_agent.config.KioskConfig``, ``[[devices]]``) plus
the tables read here: ``[workflow]``, ``[screen]``, ``[roster]``, ``[slip]``,
``[environment]`` (``configs/kiosk.example.toml`` documents every key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import tomllib
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.admission import DEFAULT_RULES_PATH, RuleSet, RuleSetError, load_rule_set, parse_rule_set
from edge_agent.agent import KioskAgent
from edge_agent.config import KioskConfig
from edge_agent.devices import DeviceSupervisor, EnvironmentLimits, environment_alarm, environment_to_telemetry
from edge_agent.exam_state import ExamStateStore
from edge_agent.roster import Roster, RosterError, demo_sign_in
from edge_agent.workflow import ScreenSettings, SystemClock, Workflow, WorkflowSettings
from edge_agent.workflow.clock import Clock
from firmware_bridges.configfile import ConfigError, describe_validation_error
from firmware_bridges.contract import Command, ConfigMessage
from firmware_bridges.readings import Reading
from firmware_bridges.serial import escpos
from firmware_bridges.serial.printer import PrinterSettings, ReceiptPrinter

log = logging.getLogger(__name__)

RUNTIME_TABLES = ("workflow", "screen", "roster", "slip", "environment")


class RosterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="default: roster.db next to the journal")


class SlipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    width_chars: int = Field(default=32, ge=16, le=64, description="58 mm paper: 32, 80 mm: 48")
    codepage: int = Field(default=escpos.CODEPAGE_PC866, ge=0, le=255, description="ESC t n selecting PC866")
    encoding: str = "cp866"
    timezone: str = "Europe/Moscow"


class EnvironmentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telemetry_every_s: float = Field(default=10.0, gt=0)
    alarm_repeat_s: float = Field(default=60.0, ge=0)
    limits: EnvironmentLimits = EnvironmentLimits()


class RuntimeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: WorkflowSettings = WorkflowSettings()
    screen: ScreenSettings = ScreenSettings()
    roster: RosterSettings = RosterSettings()
    slip: SlipSettings = SlipSettings()
    environment: EnvironmentSettings = EnvironmentSettings()


def parse_runtime_config(data: dict, source: str) -> tuple[KioskConfig, RuntimeSettings]:
    """Split a kiosk TOML dict into the agent's config and the runtime's; ConfigError names key."""
    ours = {k: data[k] for k in RUNTIME_TABLES if k in data}
    rest = {k: v for k, v in data.items() if k not in RUNTIME_TABLES}
    problems = []
    config = settings = None
    try:
        config = KioskConfig.model_validate(rest)
    except ValidationError as error:
        problems.append(describe_validation_error(source, error))
    try:
        settings = RuntimeSettings.model_validate(ours)
    except ValidationError as error:
        problems.append(describe_validation_error(source, error))
    if settings is not None and settings.workflow.default_exam_type not in settings.workflow.exam_types:
        problems.append(f"{source}: workflow.default_exam_type: {settings.workflow.default_exam_type!r} "
                        f"is not in workflow.exam_types")
    if settings is not None:
        try:
            load_rule_set(settings.workflow.rules_path or DEFAULT_RULES_PATH)
        except RuleSetError as error:
            problems.append(f"{source}: workflow.rules_path: {error}")
    if problems:
        raise ConfigError("\n".join(problems))
    assert config is not None and settings is not None
    return config, settings


def load_runtime_config(path: str | Path) -> tuple[KioskConfig, RuntimeSettings]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration file: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_runtime_config(data, str(path))


def roster_path(config: KioskConfig, settings: RuntimeSettings) -> Path:
    """Where the kiosk keeps its roster: ``[roster] path``, or roster.db next to the journal."""
    return settings.roster.path or Path(config.journal.path).parent / "roster.db"


def demo_credentials(config_path: str | Path) -> tuple[str, str] | None:
    """(personnel number, PIN) a visitor can sign in with at the kiosk of this config — a worker
    of its roster whose PIN is the simulated workforce's :data:`~edge_agent.roster.DEMO_PIN`."""
    config, settings = load_runtime_config(config_path)
    path = roster_path(config, settings)
    if not path.exists():
        return None
    roster = Roster(path)
    try:
        return demo_sign_in(roster)
    finally:
        roster.close()


class KioskRuntime:
    """Everything a kiosk runs, started and stopped together (inside one event loop)."""

    def __init__(self, config: KioskConfig, settings: RuntimeSettings | None = None, *, clock: Clock | None = None,
                 ble_backend: tuple | None = None, allow_badge_entry: bool = False):
        self.config = config
        self.settings = settings or RuntimeSettings()
        self.clock = clock or SystemClock()
        self.ble_backend = ble_backend
        self.allow_badge_entry = allow_badge_entry
        self.rules = load_rule_set(self.settings.workflow.rules_path or DEFAULT_RULES_PATH)
        self.env_limits = self.settings.environment.limits  # replaced by a config message from the hub
        # the configuration pushed by the hub: what runs, what arrived, what waits, what was refused
        self.pushed: dict[str, Any] = {"running": None, "received": None, "pending": None, "rejected": None}
        self._local_rules = self.rules
        self._pushed_message: dict | None = None
        self._pending_config: tuple | None = None
        self._config_lock = asyncio.Lock()
        self.roster = Roster(roster_path(config, self.settings))
        self.supervisor = DeviceSupervisor(config.devices, ble_backend=ble_backend)
        self.agent = KioskAgent(config, status_extra=self._status_extra, on_command=self._on_command)
        self.exam_state = ExamStateStore(config.journal.path, synchronous=config.journal.synchronous)
        self.printer = self._make_printer()
        self.workflow: Workflow | None = None
        self.url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._tasks: list[asyncio.Task] = []
        self._command_tasks: set[asyncio.Task] = set()
        self._env: list[tuple[str, Reading]] = []
        self._last_alarm: dict[str, float] = defaultdict(lambda: float("-inf"))
        self.commands: dict[str, int] = defaultdict(int)
        self._load_pushed_config()  # before the workflow starts: in effect from the first exam

    def _make_printer(self) -> ReceiptPrinter | None:
        if not self.settings.slip.enabled:
            return None
        decl = next((d for d in self.config.devices if d.kind == "printer" and d.enabled), None)
        if decl is None:
            return None
        s = self.settings.slip
        return ReceiptPrinter(PrinterSettings(serial=decl.bridge_config(), model=decl.identity.model,
                                              width_chars=s.width_chars, codepage=s.codepage, encoding=s.encoding,
                                              check_status=False))  # the supervisor reads this port too

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Start devices, uplink, workflow and screen; returns the screen's local URL."""
        import uvicorn

        from edge_agent.ui import create_app

        self._loop = asyncio.get_running_loop()
        self.supervisor.on_environment(self._on_environment)
        self.supervisor.on_health(self._on_health)
        await self.supervisor.start()
        self.agent.start()
        s = self.settings
        self.workflow = Workflow(devices=self.supervisor, rules=self.rules, roster=self.roster,
                                 record=self.agent.record, writer=self.agent.writer, state=self.exam_state,
                                 clock=self.clock, settings=s.workflow,
                                 printer=self.printer, site=self.config.identity.site,
                                 kiosk=self.config.identity.kiosk, slip_width=s.slip.width_chars,
                                 slip_timezone=s.slip.timezone, language=s.screen.language)
        await self.workflow.start()
        app = create_app(self.workflow, allow_badge_entry=self.allow_badge_entry,
                         status=self.agent.status)
        server = uvicorn.Server(uvicorn.Config(app, host=s.screen.host, port=s.screen.port, log_level="warning",
                                               access_log=False, lifespan="off"))
        server.install_signal_handlers = lambda: None  # the CLI owns the signals
        self._server = server
        self._tasks.append(asyncio.create_task(server.serve(), name="screen"))
        while not server.started:
            if self._tasks[-1].done():
                self._tasks[-1].result()  # raises why the server could not start
                raise RuntimeError(f"screen server stopped at start ({s.screen.host}:{s.screen.port})")
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{s.screen.host}:{port}/"
        self._tasks.append(asyncio.create_task(self._telemetry_loop(), name="telemetry"))
        self._tasks.append(asyncio.create_task(self._config_loop(), name="hub-config"))
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self.workflow is not None:
            await self.workflow.stop()
        for task in self._tasks:
            if task.get_name() != "screen":
                task.cancel()
        await asyncio.gather(*self._tasks, *self._command_tasks, return_exceptions=True)
        self._tasks = []
        self._flush_telemetry()
        await self.supervisor.stop()
        await asyncio.to_thread(self.agent.stop)  # carries out the writes still handed over first
        self.exam_state.close()
        self.roster.close()

    # ------------------------------------------------------------------ status, health, environment

    def _status_extra(self) -> dict:
        try:
            roster_version = self.roster.version()
        except Exception:  # the roster is closing: the status goes out without it
            roster_version = None
        return {"devices": self.supervisor.health(), "config_version": self.pushed["running"],
                "config": dict(self.pushed), "roster_version": roster_version}

    def _on_health(self, name: str, entry: dict) -> None:
        if entry.get("state") == "fault":
            self._record_event({"type": "device_fault", "severity": "warning", "device": name,
                                "message_ru": entry.get("message_ru"), "message_en": entry.get("message_en"),
                                "details": {"kind": entry.get("kind"), "code": entry.get("code")}})

    def _on_environment(self, name: str, reading: Reading) -> None:
        self._env.append((name, reading))
        zone = self.supervisor.zones().get(name)
        alarm = environment_alarm(name, reading, self.env_limits, zone=zone)
        if alarm is not None:
            now = time.monotonic()
            if now - self._last_alarm[name] >= self.settings.environment.alarm_repeat_s:
                self._last_alarm[name] = now
                self._record_event(alarm)

    async def _telemetry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.environment.telemetry_every_s)
            self._flush_telemetry()

    def _flush_telemetry(self) -> None:
        """Hand the batch to the writer thread (never journaled on the loop)."""
        batch, self._env = self._env, []
        if not batch:
            return
        for start in range(0, len(batch), 5000):
            try:
                body = environment_to_telemetry(batch[start:start + 5000], self.supervisor.zones())
                self.agent.writer.submit(self._record_now, "telemetry", body)
            except Exception:
                log.exception("telemetry batch of %d readings could not be recorded", len(batch))

    def _record_event(self, body: dict) -> None:
        """Called on the loop (device callbacks, commands): journaled on the writer thread."""
        try:
            self.agent.writer.submit(self._record_now, "event", body)
        except RuntimeError:  # the writer is closed: the kiosk is stopping
            log.error("event could not be recorded (kiosk stopping): %s", body.get("type"))

    def _record_now(self, kind: str, body: dict) -> None:
        """On the writer thread."""
        try:
            self.agent.record(kind, body)
        except Exception:
            log.exception("%s record could not be recorded: %s", kind, body.get("type", ""))

    # ------------------------------------------------------------------ commands from the hub

    def _on_command(self, kind: str, data: dict) -> None:
        """Called on the uplink's thread; work is handed to the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._spawn_command, kind, data)

    def _spawn_command(self, kind: str, data: Any) -> None:
        task = asyncio.create_task(self.handle_command(kind, data), name="hub-command")
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def handle_command(self, kind: str, data: Any) -> None:
        if kind == "config":
            await self.apply_config(data)
            return
        if kind != "cmd":
            self.commands[f"ignored_{kind}"] += 1
            return
        try:
            command = Command.model_validate(data)
        except ValidationError as error:
            self._reject(data, f"not a valid command: {error.errors()[0]['msg']} at "
                               f"{'.'.join(str(p) for p in error.errors()[0]['loc'])}")
            return
        try:
            if command.type == "roster_update":
                result = await asyncio.to_thread(self.roster.apply_update, command.args)  # a durable write
                log.info("roster updated: %s", result)
            elif command.type == "medic_decision":
                if self.workflow is not None:
                    self.workflow.medic_decision({**command.args, "command_id": str(command.command_id)})
            else:
                self._reject(data, f"command type {command.type!r} is not handled by this kiosk")
                return
        except RosterError as error:
            self._reject(data, str(error))
            return
        self.commands[command.type] += 1

    def _reject(self, data: Any, reason: str) -> None:
        self.commands["rejected"] += 1
        command_id = data.get("command_id") if isinstance(data, dict) else None
        self._record_event({"type": "command_rejected", "severity": "warning",
                            "message_ru": "Команда от сервера не применена.", "message_en": f"Command not applied: {reason}",
                            "details": {"command_id": command_id, "reason": reason,
                                        "type": data.get("type") if isinstance(data, dict) else None}})

    # ------------------------------------------------------------------ configuration pushed by the hub

    def _config_path(self) -> Path:
        return Path(self.config.journal.path).parent / "hub-config.json"

    def _prepare_config(self, data: Any) -> tuple[ConfigMessage, RuleSet, EnvironmentLimits]:
        """Validate a config message whole (ValidationError / RuleSetError name what is wrong).
        ``admission_rules`` null means this kiosk's own rule set; ``thresholds`` override the
        kiosk TOML's ``[environment.limits]``."""
        message = ConfigMessage.model_validate(data)
        rules = (self._local_rules if message.admission_rules is None
                 else parse_rule_set(message.admission_rules, f"config {message.version}: admission_rules"))
        limits = EnvironmentLimits.model_validate({**self.settings.environment.limits.model_dump(),
                                                   **message.thresholds})
        return message, rules, limits

    def _load_pushed_config(self) -> None:
        """At start: the configuration the hub pushed last is in effect before the first exam."""
        try:
            data = json.loads(self._config_path().read_text(encoding="utf-8"))
            self._adopt(data, *self._prepare_config(data))
        except FileNotFoundError:
            return
        except Exception as error:  # a damaged file: run the local config and say so in the status
            log.error("stored hub configuration %s not used: %s", self._config_path(), error)
            self.pushed["rejected"] = {"version": None, "reason": f"stored configuration unreadable: {error}"[:1000]}

    def _store_config(self, data: dict) -> None:
        """Durable (fsync, atomic rename) before it is applied: a restart runs what was accepted."""
        path = self._config_path()
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def _adopt(self, data: dict, message: ConfigMessage, rules: RuleSet, limits: EnvironmentLimits) -> None:
        self.rules = rules
        if self.workflow is not None:
            self.workflow.rules = rules  # read at each decision; only swapped with no exam in progress
        self.env_limits = limits
        self._pushed_message = data
        self.pushed.update(running=message.version, received=message.version, pending=None)

    async def apply_config(self, data: Any) -> None:
        """A ``config`` message (retained: it arrives again on every connection; the same one is a no-op)."""
        async with self._config_lock:
            if data == self._pushed_message or (self._pending_config and data == self._pending_config[0]):
                return
            version = data.get("version") if isinstance(data, dict) else None
            try:
                prepared = self._prepare_config(data)
            except (ValidationError, RuleSetError, ValueError) as error:
                reason = str(error) if not isinstance(error, ValidationError) else "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()[:5])
                self.pushed.update(received=version if isinstance(version, str) else None,
                                   rejected={"version": version if isinstance(version, str) else None,
                                             "reason": reason[:1000]})
                self._record_event({"type": "config_rejected", "severity": "warning",
                                    "message_ru": "Конфигурация от сервера не применена.",
                                    "message_en": f"Configuration from the hub not applied: {reason[:300]}",
                                    "details": {"version": self.pushed["rejected"]["version"], "reason": reason[:1000],
                                                "running": self.pushed["running"]}})
                self.agent.uplink.publish_status()
                return
            try:
                await asyncio.to_thread(self._store_config, data)
            except OSError as error:  # e.g. a full disk: not accepted; the retained message comes again on reconnect
                log.error("hub configuration %s not stored: %s", version, error)
                self.pushed["rejected"] = {"version": prepared[0].version, "reason": f"not stored: {error}"[:1000]}
                self.agent.uplink.publish_status()
                return
            self.pushed.update(received=prepared[0].version, rejected=None, pending=None)
            self._pending_config = (data, *prepared)
            self._try_pending_config()

    def _exam_in_progress(self) -> bool:
        workflow = self.workflow
        return workflow is not None and (workflow.view.get("screen") != "idle" or bool(workflow.waiting))

    def _try_pending_config(self) -> None:
        """Apply the accepted config now, unless it changes the rule set while an exam is in progress
        (an exam is decided under one rule set from its first reading to its record)."""
        if self._pending_config is None:
            return
        data, message, rules, limits = self._pending_config
        if rules.fingerprint() != self.rules.fingerprint() and self._exam_in_progress():
            if self.pushed["pending"] is None:
                self.pushed["pending"] = (f"version {message.version}: its admission rule set waits until no exam is "
                                          "in progress")
                self.agent.uplink.publish_status()
            return
        self._pending_config = None
        self._adopt(data, message, rules, limits)
        log.info("hub configuration %s applied (rule set %s)", message.version, rules.version)
        self._record_event({"type": "config_applied", "severity": "info",
                            "message_ru": f"Применена конфигурация сервера, версия {message.version}.",
                            "message_en": f"Hub configuration version {message.version} applied.",
                            "details": {"version": message.version, "rule_set_version": rules.version,
                                        "thresholds": message.thresholds}})
        self.agent.uplink.publish_status()

    async def _config_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self._try_pending_config()
            except Exception:
                log.exception("applying the hub configuration failed")
