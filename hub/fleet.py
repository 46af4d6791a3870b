"""Fleet management: kiosk MQTT credentials, the configuration pushed to kiosks, the fleet view.

Three parts (``docs/fleet.md``):

* **Credentials** (``ohs-hub kiosk add|revoke|list``). A kiosk's MQTT username is
  ``{site}/{kiosk}`` (``configs/mosquitto/acl``: it binds both ids). ``add`` makes a random
  password, shows it once and keeps only the broker's PBKDF2 hash (made by ``mosquitto_passwd
  -U`` on a private temporary file, so the password never appears on a command line), adds the
  user to the broker's password file, records the kiosk in ``fleet_kiosks``, regenerates the ACL
  file from the template and reloads the broker. ``revoke`` removes the user, regenerates the
  ACL, marks the kiosk revoked and reloads the broker (mosquitto re-reads both files on SIGHUP
  and disconnects clients whose credentials are gone).
* **Configuration** pushed to a kiosk: each ``PUT /api/v1/fleet/{site}/{kiosk}/config`` stores a
  new version (1, 2, 3 … per kiosk, with who and when) in ``fleet_config`` and publishes it as
  the retained ``config`` message (QoS 1) through the hub's MQTT client. The kiosk reports the
  version it runs in its status (``config_version``).
* **The fleet view** (``GET /api/v1/fleet``): every kiosk the hub knows with its state, clock
  offset and configuration versions, and the problems found (``clock_skew``, ``offline``,
  ``config_pending``, ``config_rejected``, ``config_unpublished``).

``FleetSettings`` is the ``[fleet]`` section of the hub config (``configs/hub.example.toml``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridges.contract import ID_PATTERN, ConfigMessage, json_depth, topic
from hub.store import RequestRefused, Store, utc_now

if TYPE_CHECKING:  # hub.config imports this module
    from hub.config import HubConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS fleet_kiosks (
    id INTEGER PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL, username TEXT NOT NULL,
    added_at TEXT NOT NULL, who TEXT NOT NULL, revoked_at TEXT, revoked_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS fleet_kiosks_active ON fleet_kiosks(site, kiosk) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS fleet_config (
    site TEXT NOT NULL, kiosk TEXT NOT NULL, version INTEGER NOT NULL, message TEXT NOT NULL,
    who TEXT NOT NULL, created_at TEXT NOT NULL, published_at TEXT,
    PRIMARY KEY (site, kiosk, version)
) WITHOUT ROWID;
"""

_ID_RE = re.compile(ID_PATTERN)
#: the substitutions mosquitto makes in ``pattern`` lines (username, client id); the generated ACL writes
#: each kiosk's topics out in full instead
_PLACEHOLDERS = ("%u", "%c")


class FleetSettings(BaseModel):
    """``[fleet]`` of the hub config. Paths are those the broker reads (``password_file``, ``acl_file``)."""

    model_config = ConfigDict(extra="forbid")

    mosquitto_passwd_file: Path | None = Field(
        default=None, description="the broker's password_file; `ohs-hub kiosk add/revoke` edit it")
    mosquitto_acl_file: Path | None = Field(
        default=None, description="the broker's acl_file; regenerated from acl_template on every add/revoke")
    acl_template: Path | None = Field(
        default=None, description="ACL template (default: the shipped configs/mosquitto/acl)")
    hub_username: str | None = Field(
        default=None, pattern=r"^[^\s#]+$", max_length=128,
        description="the hub's MQTT user in the generated ACL (default: [mqtt] username, else 'hub')")
    mosquitto_passwd_command: str = Field(default="mosquitto_passwd", min_length=1,
                                          description="the mosquitto_passwd program (Debian package mosquitto)")
    reload_command: str | None = Field(
        default=None, min_length=1,
        description="run after every change so the broker re-reads its files, e.g. 'systemctl reload mosquitto' "
                    "(split like a shell would, run without a shell)")
    reload_pid_file: Path | None = Field(
        default=None, description="instead of reload_command: send SIGHUP to the pid in this file "
                                  "(e.g. /run/mosquitto/mosquitto.pid)")
    reload_timeout_s: float = Field(default=30.0, gt=0, le=600, description="how long reload_command may run")
    clock_skew_max_s: float = Field(
        default=60.0, gt=0,
        description="a kiosk whose |clock_offset_s| exceeds this is flagged clock_skew in GET /api/v1/fleet "
                    "(design default; exam times are journal records, docs/fleet.md)")
    config_publish_timeout_s: float = Field(
        default=5.0, gt=0, le=60,
        description="PUT …/config waits this long for the broker's PUBACK; later: 202 and 'published': false")

    @model_validator(mode="after")
    def _one_reload(self) -> FleetSettings:
        if self.reload_command and self.reload_pid_file:
            raise ValueError("set reload_command or reload_pid_file, not both")
        return self


class FleetError(Exception):
    """A fleet operation refused or failed; nothing half-done is left behind. CLI exit code 2."""


# --------------------------------------------------------------------------- ids, files, locks


def kiosk_username(site: str, kiosk: str) -> str:
    """``{site}/{kiosk}``; FleetError when an id is not ``[a-z0-9-]+`` (1–64 characters)."""
    for name, value in (("site", site), ("kiosk", kiosk)):
        if not isinstance(value, str) or not (1 <= len(value) <= 64) or not _ID_RE.fullmatch(value):
            raise FleetError(f"{name} id {value!r} is not valid: use 1–64 characters of a-z, 0-9 and '-' "
                             "(it becomes part of MQTT topics and the broker username)")
    return f"{site}/{kiosk}"


def _required(settings: FleetSettings) -> tuple[Path, Path]:
    missing = [key for key in ("mosquitto_passwd_file", "mosquitto_acl_file") if getattr(settings, key) is None]
    if missing:
        raise FleetError("the hub config has no " + " and no ".join(f"[fleet] {key}" for key in missing)
                         + ": set the paths of the broker's password_file and acl_file (configs/hub.example.toml)")
    return Path(settings.mosquitto_passwd_file), Path(settings.mosquitto_acl_file)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One ``ohs-hub kiosk`` change at a time (an flock on a file beside the hub database)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str, new_mode: int) -> bool:
    """Replace ``path`` by ``text`` (temp file, fsync, rename) keeping its mode and owner; False if unchanged."""
    try:
        before = path.stat()
        if path.read_text(encoding="utf-8") == text:
            return False
        mode, owner = before.st_mode & 0o7777, (before.st_uid, before.st_gid)
    except FileNotFoundError:
        mode, owner = new_mode, None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None and os.geteuid() == 0:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


# --------------------------------------------------------------------------- records stored per kiosk


def stored_records(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """(site, kiosk) → ``records`` (journal records stored) and ``max_seq`` (the highest sequence stored).

    The counts come from ``received_tally`` (migration 0004: one row per kiosk journal, kept by triggers
    on ``received`` in the writer's transaction), each journal's highest sequence from ``received``'s
    primary key (one index seek per journal), so ``GET /api/v1/kiosks`` does not count every record ever
    stored on each request."""
    rows = store.query(
        "SELECT t.site, t.kiosk, CAST(sum(t.records) AS BIGINT) AS records, max((SELECT max(r.seq) FROM received r "
        "WHERE r.site = t.site AND r.kiosk = t.kiosk AND r.incarnation = t.incarnation)) AS max_seq "
        "FROM received_tally t GROUP BY t.site, t.kiosk")
    return {(r["site"], r["kiosk"]): r for r in rows if r["records"]}


# --------------------------------------------------------------------------- the broker's password file


def password_users(path: Path) -> list[str]:
    """Usernames in a mosquitto password file (``user:hash`` lines); [] if it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise FleetError(f"cannot read the password file {path}: {error.strerror}") from None
    return [line.split(":", 1)[0] for line in text.splitlines() if line.strip() and not line.startswith("#")]


def hash_password(command: str, username: str, password: str) -> str:
    """The ``user:$7$…`` line for the password file, hashed by ``mosquitto_passwd -U`` (PBKDF2-SHA512).

    The clear password goes only into a 0600 file in a private temporary directory, never onto a
    command line (``-b`` would show it in the process list)."""
    if ":" in username or "\n" in username or "\n" in password:
        raise FleetError(f"username {username!r} cannot go into a password file")
    with tempfile.TemporaryDirectory(prefix="ohs-fleet-") as private:
        plain = Path(private) / "passwd"
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{username}:{password}\n")
        try:
            done = subprocess.run([*shlex.split(command), "-U", str(plain)], capture_output=True, text=True,
                                  check=False, timeout=60)
        except FileNotFoundError:
            raise FleetError(f"{command!r} not found: install Debian's mosquitto package (it ships mosquitto_passwd) "
                             "or set [fleet] mosquitto_passwd_command") from None
        if done.returncode != 0:
            raise FleetError(f"mosquitto_passwd -U failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
        line = plain.read_text(encoding="utf-8").strip()
    if not line.startswith(f"{username}:$") or "\n" in line or password in line:
        raise FleetError("mosquitto_passwd -U did not produce a hashed line")
    return line


def _add_password_line(path: Path, username: str, line: str) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    if username in password_users(path):
        raise FleetError(f"{path} already holds a user {username!r}")
    if text and not text.endswith("\n"):
        text += "\n"
    _write_atomically(path, text + line + "\n", 0o640)


def _remove_password_user(command: str, path: Path, username: str) -> None:
    """``mosquitto_passwd -D``; a user that is not there is not an error."""
    if username not in password_users(path):
        return
    done = subprocess.run([*shlex.split(command), "-D", str(path), username], capture_output=True, text=True,
                          check=False, timeout=60)
    if done.returncode != 0 or username in password_users(path):
        raise FleetError(f"mosquitto_passwd -D {path} {username} failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()}")


# --------------------------------------------------------------------------- the ACL


def render_acl(template: str, hub_username: str, usernames: list[str], template_name: str = "template") -> str:
    """The broker's ACL for the hub and each active kiosk, from the template's rules.

    The template's ``user`` block (the hub) is kept with the configured hub username; each
    ``pattern <access> <topic with %u>`` line becomes ``topic <access> <topic>`` in a ``user``
    block per kiosk. No ``pattern`` lines remain: a user of the password file that the fleet
    registry does not list (one added by hand, one revoked) is granted nothing.
    """
    head: list[str] = []
    hub_rules: list[str] = []
    kiosk_rules: list[tuple[str, str]] = []
    section = "head"
    for number, raw in enumerate(template.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if section == "head":
                head.append(raw.rstrip())
            continue
        words = line.split()
        if words[0] == "user" and section in ("head", "hub"):
            section = "hub"
        elif words[0] == "topic" and section == "hub" and len(words) in (2, 3):
            hub_rules.append(" ".join(words))
        elif words[0] == "pattern" and len(words) == 3 and words[1] in ("read", "write", "readwrite", "deny") \
                and words[2].count("%u") == 1 and "%c" not in words[2]:
            section = "patterns"
            kiosk_rules.append((words[1], words[2]))
        else:
            raise FleetError(f"{template_name}:{number}: cannot turn {line!r} into per-kiosk rules (expected a "
                             "'user' block for the hub, then 'pattern <access> <topic with %u>' lines)")
    if not kiosk_rules:
        raise FleetError(f"{template_name}: no 'pattern … %u …' lines: nothing to grant kiosks")
    out = [*head, "#",
           f"# GENERATED by `ohs-hub kiosk add|revoke` from {template_name}: the hub, then one block per",
           "# active kiosk of the fleet registry (hub database, table fleet_kiosks). Edits are overwritten.",
           f"user {hub_username}", *hub_rules]
    for username in sorted(usernames):
        out += ["", f"user {username}", *(f"topic {access} {pattern.replace('%u', username)}"
                                          for access, pattern in kiosk_rules)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- broker reload


@dataclass
class Reload:
    done: bool
    message: str


def reload_broker(settings: FleetSettings) -> Reload:
    """Ask the broker to re-read its password and ACL files (SIGHUP or the configured command)."""
    if settings.reload_pid_file is not None:
        try:
            pid = int(Path(settings.reload_pid_file).read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as error:
            return Reload(False, f"could not send SIGHUP to the pid in {settings.reload_pid_file}: {error}")
        return Reload(True, f"sent SIGHUP to the broker (pid {pid})")
    if settings.reload_command:
        try:
            done = subprocess.run(shlex.split(settings.reload_command), capture_output=True, text=True,
                                  check=False, timeout=settings.reload_timeout_s)
        except (OSError, subprocess.TimeoutExpired) as error:
            return Reload(False, f"reload command {settings.reload_command!r} failed: {error}")
        if done.returncode != 0:
            return Reload(False, f"reload command {settings.reload_command!r} exited {done.returncode}: "
                                 f"{(done.stderr or done.stdout).strip()[:500]}")
        return Reload(True, f"ran {settings.reload_command!r}")
    return Reload(False, "no [fleet] reload_command or reload_pid_file: the change takes effect when the broker "
                         "reloads (systemctl reload mosquitto)")


# --------------------------------------------------------------------------- the registry (hub database)


class FleetRegistry:
    """``fleet_kiosks``: which kiosks hold broker credentials (one active row per kiosk, history kept)."""

    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema("fleet", SCHEMA)

    def active(self, site: str, kiosk: str) -> dict | None:
        rows = self.store.query("SELECT * FROM fleet_kiosks WHERE site = ? AND kiosk = ? AND revoked_at IS NULL",
                                [site, kiosk])
        return rows[0] if rows else None

    def last(self, site: str, kiosk: str) -> dict | None:
        rows = self.store.query("SELECT * FROM fleet_kiosks WHERE site = ? AND kiosk = ? ORDER BY id DESC LIMIT 1",
                                [site, kiosk])
        return rows[0] if rows else None

    def active_usernames(self) -> list[str]:
        return [r[0] for r in self.store.query_rows("SELECT username FROM fleet_kiosks WHERE revoked_at IS NULL")]

    def all(self) -> list[dict]:
        return self.store.query("SELECT * FROM fleet_kiosks ORDER BY site, kiosk, id")

    def add(self, site: str, kiosk: str, username: str, who: str) -> int:
        with self.store.lock:
            return self.store.conn.execute(  # RETURNING: the new id on SQLite and PostgreSQL alike
                "INSERT INTO fleet_kiosks (site, kiosk, username, added_at, who) VALUES (?,?,?,?,?) RETURNING id",
                (site, kiosk, username, utc_now(), who)).fetchone()[0]

    def forget(self, row_id: int) -> None:
        """Undo :meth:`add` (an add that could not be completed)."""
        with self.store.lock:
            self.store.conn.execute("DELETE FROM fleet_kiosks WHERE id = ?", (row_id,))

    def revoke(self, site: str, kiosk: str, who: str) -> None:
        with self.store.lock:
            self.store.conn.execute("UPDATE fleet_kiosks SET revoked_at = ?, revoked_by = ? WHERE site = ? AND "
                                    "kiosk = ? AND revoked_at IS NULL", (utc_now(), who, site, kiosk))


# --------------------------------------------------------------------------- kiosk add / revoke


@dataclass
class Outcome:
    username: str
    password: str | None  # only from add, shown once
    reload: Reload | None  # None: nothing changed, no reload needed
    note: str = ""


def _acl_template(settings: FleetSettings) -> Path:
    if settings.acl_template is not None:
        return Path(settings.acl_template)
    from firmware_bridges.configfile import shipped_config

    return shipped_config("mosquitto", "acl")


def _hub_username(config: HubConfig) -> str:
    return config.fleet.hub_username or config.mqtt.username or "hub"


def _acl_for(config: HubConfig, usernames: list[str]) -> str:
    template = _acl_template(config.fleet)
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as error:
        raise FleetError(f"cannot read the ACL template {template}: {error.strerror}") from None
    return render_acl(text, _hub_username(config), usernames, str(template))


def write_acl(config: HubConfig, registry: FleetRegistry) -> bool:
    """Regenerate the broker's ACL file from the template and the registry; True if it changed."""
    _, acl_path = _required(config.fleet)
    return _write_atomically(acl_path, _acl_for(config, registry.active_usernames()), 0o644)


def _lock_path(config: HubConfig) -> Path:
    return Path(config.storage.path).parent / "fleet.lock"


def add_kiosk(config: HubConfig, store: Store, site: str, kiosk: str, who: str) -> Outcome:
    """Issue a kiosk's credentials. FleetError (nothing changed) when it already has some."""
    username = kiosk_username(site, kiosk)
    passwd, _ = _required(config.fleet)
    command = config.fleet.mosquitto_passwd_command
    with _exclusive(_lock_path(config)):
        registry = FleetRegistry(store)
        active = registry.active(site, kiosk)
        if active is not None:
            raise FleetError(f"kiosk {username} is already registered (added {active['added_at']} by {active['who']}); "
                             f"its password is not stored anywhere. To issue new credentials: "
                             f"ohs-hub kiosk revoke {site} {kiosk}, then add it again")
        if username in password_users(passwd):
            raise FleetError(f"{passwd} already has a user {username!r} that the fleet registry does not list "
                             f"(added by hand?); remove it first: ohs-hub kiosk revoke {site} {kiosk}")
        _acl_for(config, [*registry.active_usernames(), username])  # a template it cannot use: refused here
        password = secrets.token_urlsafe(24)  # 192 random bits
        line = hash_password(command, username, password)
        _add_password_line(passwd, username, line)
        row_id = None
        try:
            row_id = registry.add(site, kiosk, username, who)
            write_acl(config, registry)
        except BaseException:  # leave nothing half-done: no credentials without a registry row and an ACL
            with contextlib.suppress(Exception):
                if row_id is not None:
                    registry.forget(row_id)
            with contextlib.suppress(Exception):
                _remove_password_user(command, passwd, username)
            with contextlib.suppress(Exception):
                write_acl(config, registry)
            raise
        store.audit(who, "admin", "fleet_kiosk_add", username, {"password_file": str(passwd)})
    return Outcome(username, password, reload_broker(config.fleet))


def revoke_kiosk(config: HubConfig, store: Store, site: str, kiosk: str, who: str) -> Outcome:
    """Remove a kiosk's credentials and rights. Revoking a revoked kiosk changes nothing (and says so)."""
    username = kiosk_username(site, kiosk)
    passwd, _ = _required(config.fleet)
    with _exclusive(_lock_path(config)):
        registry = FleetRegistry(store)
        active = registry.active(site, kiosk)
        in_file = username in password_users(passwd)
        if active is None and not in_file:
            last = registry.last(site, kiosk)
            if last is None:
                raise FleetError(f"kiosk {username} is not registered and not in {passwd}: nothing to revoke")
            changed = write_acl(config, registry)  # converge: the ACL matches the registry
            return Outcome(username, None, reload_broker(config.fleet) if changed else None,
                           f"already revoked {last['revoked_at']} by {last['revoked_by']}")
        _remove_password_user(config.fleet.mosquitto_passwd_command, passwd, username)
        if active is not None:
            registry.revoke(site, kiosk, who)
        write_acl(config, registry)
        store.audit(who, "admin", "fleet_kiosk_revoke", username,
                    {"registered": active is not None, "was_in_password_file": in_file})
    note = "" if active is not None else "it was in the password file only (not registered); removed"
    return Outcome(username, None, reload_broker(config.fleet), note)


def list_kiosks(config: HubConfig, store: Store) -> dict:
    """Registry rows with their last status, and what disagrees with the password file."""
    registry = FleetRegistry(store)
    passwd = config.fleet.mosquitto_passwd_file
    users = set(password_users(Path(passwd))) if passwd else None
    status = {(r["site"], r["kiosk"]): r for r in store.query("SELECT site, kiosk, state, last_seen FROM kiosks")}
    items = []
    for row in registry.all():
        seen = status.get((row["site"], row["kiosk"]), {})
        items.append({**row, "active": row["revoked_at"] is None,
                      "in_password_file": None if users is None else row["username"] in users,
                      "state": seen.get("state"), "last_seen": seen.get("last_seen")})
    active = set(registry.active_usernames())
    unregistered = sorted(u for u in (users or ()) if u not in active and "/" in u)
    return {"items": items, "password_file": str(passwd) if passwd else None,
            "unregistered_users": unregistered}


# --------------------------------------------------------------------------- configuration pushed to kiosks


class ConfigUpdate(BaseModel):
    """The body of ``PUT /api/v1/fleet/{site}/{kiosk}/config``: a kiosk's whole desired configuration."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    admission_rules: dict[str, Any] | None = Field(
        default=None, description="a whole admission rule set as JSON (the tables of configs/admission/*.toml); "
        "null: the kiosk's own rule set. The kiosk validates it and reports a rejection in its status")
    thresholds: dict[str, Any] = Field(
        default_factory=dict, description="kiosk thresholds over its own config, e.g. {\"noise_limit_dba\": 85} "
        "(the keys of [environment.limits] in the kiosk TOML)")
    roster_version: str | None = Field(default=None, max_length=64,
                                       description="the roster version the kiosk should hold (informational)")
    base_version: int | None = Field(
        default=None, ge=0, le=2**53, description="the desired version this change was made from (0: none yet); "
        "409 when another version was stored since")


def _checked_ids(site: str, kiosk: str) -> None:
    try:
        kiosk_username(site, kiosk)
    except FleetError as error:
        raise RequestRefused(422, str(error)) from None


class FleetService:
    """Desired configuration per kiosk (stored, published retained) and the fleet view."""

    def __init__(self, config: HubConfig, store: Store, ingest=None):
        self.config = config
        self.store = store
        self.ingest = ingest
        self.registry = FleetRegistry(store)
        self._publish_lock = threading.Lock()  # versions reach the broker in the order they were stored
        self._inflight: dict[tuple[str, str, int], Any] = {}  # paho MQTTMessageInfo not yet PUBACKed

    # -------------------------------------------------------------- reads

    def _statuses(self) -> dict[tuple[str, str], dict]:
        out = {}
        for row in self.store.query("SELECT site, kiosk, state, status_ts, last_seen, status FROM kiosks"):
            try:
                body = json.loads(row.pop("status"))
            except (TypeError, ValueError):
                body = {}
            out[(row["site"], row["kiosk"])] = {**row, "body": body if isinstance(body, dict) else {}}
        return out

    def _settle_inflight(self) -> None:
        """Record published_at for messages paho has since delivered (PUBACK after the PUT returned)."""
        for key, info in list(self._inflight.items()):
            try:
                published = info.is_published()
            except (RuntimeError, ValueError):
                self._inflight.pop(key, None)  # failed: stays unpublished; republish sends it again
                continue
            if published:
                self._inflight.pop(key, None)
                self._mark_published(*key)

    def _mark_published(self, site: str, kiosk: str, version: int) -> None:
        with self.store.lock:
            self.store.conn.execute("UPDATE fleet_config SET published_at = ? WHERE site = ? AND kiosk = ? AND "
                                    "version = ? AND published_at IS NULL", (utc_now(), site, kiosk, version))

    def desired(self, site: str, kiosk: str) -> dict | None:
        rows = self.store.query("SELECT * FROM fleet_config WHERE site = ? AND kiosk = ? ORDER BY version DESC LIMIT 1",
                                [site, kiosk])
        if not rows:
            return None
        row = rows[0]
        row["message"] = json.loads(row["message"])
        return row

    def _running(self, status: dict | None) -> dict:
        if status is None:
            return {"version": None, "reported_at": None, "state": None}
        body = status["body"]
        detail = body.get("config") if isinstance(body.get("config"), dict) else {}
        return {"version": body.get("config_version"), "reported_at": status["status_ts"], "state": status["state"],
                "received": detail.get("received"), "pending": detail.get("pending"),
                "rejected": detail.get("rejected")}

    def get_config(self, site: str, kiosk: str) -> dict:
        self._settle_inflight()
        desired = self.desired(site, kiosk)
        status = self._statuses().get((site, kiosk))
        if desired is None and status is None and not self._known(site, kiosk):
            raise RequestRefused(404, f"no kiosk {site}/{kiosk} is known to the hub")
        running = self._running(status)
        history = self.store.query("SELECT version, who, created_at, published_at FROM fleet_config WHERE site = ? "
                                   "AND kiosk = ? ORDER BY version DESC LIMIT 20", [site, kiosk])
        return {"site": site, "kiosk": kiosk,
                "desired": None if desired is None else {k: desired[k] for k in ("version", "who", "created_at",
                                                                                  "published_at", "message")},
                "running": running,
                "in_sync": desired is not None and running["version"] == str(desired["version"]),
                "history": history}

    def _known(self, site: str, kiosk: str) -> bool:
        return (self.registry.active(site, kiosk) is not None
                or self.store.scalar("SELECT 1 FROM kiosks WHERE site = ? AND kiosk = ?", [site, kiosk]) is not None
                or any((k.site, k.kiosk) == (site, kiosk) for k in self.config.kiosks))

    # -------------------------------------------------------------- writes

    def put_config(self, site: str, kiosk: str, update: ConfigUpdate, who: str) -> dict:
        """Store the next version and publish it retained (QoS 1). RequestRefused on a bad request."""
        _checked_ids(site, kiosk)
        last = self.registry.last(site, kiosk)
        if last is not None and last["revoked_at"] is not None:
            raise RequestRefused(409, f"kiosk {site}/{kiosk} was revoked {last['revoked_at']}; add it again first")
        if not self._known(site, kiosk):
            raise RequestRefused(404, f"no kiosk {site}/{kiosk} is known to the hub (registered with `ohs-hub kiosk "
                                      "add`, listed in [[kiosks]] or heard from)")
        with self._publish_lock:
            current = self.store.scalar("SELECT max(version) FROM fleet_config WHERE site = ? AND kiosk = ?",
                                        [site, kiosk]) or 0
            if update.base_version is not None and update.base_version != current:
                raise RequestRefused(409, f"the desired configuration of {site}/{kiosk} is at version {current}, "
                                          f"not {update.base_version}: read it again and reapply your change",
                                     "base_version")
            version = current + 1
            message = ConfigMessage(version=str(version), admission_rules=update.admission_rules,
                                    thresholds=update.thresholds, roster_version=update.roster_version,
                                    issued_at=utc_now())
            payload = self._encode(message)
            with self.store.lock:
                self.store.conn.execute(
                    "INSERT INTO fleet_config (site, kiosk, version, message, who, created_at) VALUES (?,?,?,?,?,?)",
                    (site, kiosk, version, payload.decode("utf-8"), who, utc_now()))
            self.store.audit(who, "admin", "fleet_config_put", f"{site}/{kiosk}", {"version": version})
            published, reason = self._publish(site, kiosk, version, payload)
        return {"site": site, "kiosk": kiosk, "version": version, "published": published, "reason": reason}

    def republish(self, site: str, kiosk: str, who: str) -> dict:
        """Publish the newest desired version again (after the hub was offline when it was stored)."""
        _checked_ids(site, kiosk)
        with self._publish_lock:
            desired = self.desired(site, kiosk)
            if desired is None:
                raise RequestRefused(404, f"no configuration stored for {site}/{kiosk}")
            payload = json.dumps(desired["message"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            self.store.audit(who, "admin", "fleet_config_republish", f"{site}/{kiosk}",
                             {"version": desired["version"]})
            published, reason = self._publish(site, kiosk, desired["version"], payload)
        return {"site": site, "kiosk": kiosk, "version": desired["version"], "published": published, "reason": reason}

    def _encode(self, message: ConfigMessage) -> bytes:
        data = message.model_dump(by_alias=True)  # python mode: JSON mode would turn NaN into null silently
        try:
            payload = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except ValueError:
            raise RequestRefused(422, "the configuration holds a number JSON cannot carry (NaN or ±Infinity)") from None
        if json_depth(data, self.config.ingest.max_json_depth) > self.config.ingest.max_json_depth:
            raise RequestRefused(422, f"the configuration nests deeper than {self.config.ingest.max_json_depth} levels")
        if len(payload) > self.config.ingest.max_payload_bytes:
            raise RequestRefused(413, f"the configuration is {len(payload)} bytes; at most "
                                      f"{self.config.ingest.max_payload_bytes} ([ingest] max_payload_bytes)")
        return payload

    def _publish(self, site: str, kiosk: str, version: int, payload: bytes) -> tuple[bool, str | None]:
        """Retained, QoS 1, on the hub's own MQTT client; True once the broker PUBACKed it."""
        client = getattr(self.ingest, "client", None)
        if client is None or not self.ingest.connected:
            return False, ("the hub is not connected to the broker: stored, not published; "
                           f"POST /api/v1/fleet/{site}/{kiosk}/config/republish when it is")
        info = client.publish(topic(site, kiosk, "config"), payload, qos=1, retain=True)
        try:
            info.wait_for_publish(self.config.fleet.config_publish_timeout_s)
        except (RuntimeError, ValueError) as error:
            return False, f"publishing failed: {error}; POST …/config/republish to try again"
        if not info.is_published():
            self._inflight[(site, kiosk, version)] = info
            return False, (f"no PUBACK within {self.config.fleet.config_publish_timeout_s:g} s; the hub's client "
                           "keeps sending it (published_at is set when the broker confirms)")
        self._mark_published(site, kiosk, version)
        return True, None

    # -------------------------------------------------------------- the fleet view

    def view(self) -> dict:
        """Every kiosk the hub knows: state, clock offset, configuration; problems per kiosk and in all."""
        self._settle_inflight()
        bound = self.config.fleet.clock_skew_max_s
        statuses = self._statuses()
        registry: dict[tuple[str, str], dict] = {}
        for row in self.registry.all():  # the newest row per kiosk
            registry[(row["site"], row["kiosk"])] = row
        desired = {(r["site"], r["kiosk"]): r for r in self.store.query(
            "SELECT site, kiosk, max(version) AS version FROM fleet_config GROUP BY site, kiosk")}
        unpublished = {(r["site"], r["kiosk"]) for r in self.store.query(
            "SELECT c.site, c.kiosk FROM fleet_config c JOIN (SELECT site, kiosk, max(version) AS v FROM fleet_config "
            "GROUP BY site, kiosk) m ON c.site = m.site AND c.kiosk = m.kiosk AND c.version = m.v "
            "WHERE c.published_at IS NULL")}
        keys = sorted(set(statuses) | set(registry) | set(desired) | {(k.site, k.kiosk) for k in self.config.kiosks})
        items, problems = [], {}
        for key in keys:
            status, reg, want = statuses.get(key), registry.get(key), desired.get(key)
            body = status["body"] if status else {}
            offset = body.get("clock_offset_s")
            offset = offset if isinstance(offset, (int, float)) and not isinstance(offset, bool) else None
            skew = offset is not None and abs(offset) > bound
            running = self._running(status)
            config = {"desired_version": want["version"] if want else None,
                      "published": None if want is None else key not in unpublished,
                      "running_version": running["version"],
                      "in_sync": want is not None and running["version"] == str(want["version"]),
                      "pending": running.get("pending"), "rejected": running.get("rejected")}
            found = []
            revoked = reg is not None and reg["revoked_at"] is not None
            if skew:
                found.append("clock_skew")
            if status is not None and status["state"] == "offline" and not revoked:
                found.append("offline")
            if want is not None and key in unpublished:
                found.append("config_unpublished")
            elif want is not None and status is not None and status["state"] == "online" and not config["in_sync"]:
                rejected = config["rejected"] if isinstance(config["rejected"], dict) else {}
                found.append("config_rejected" if rejected.get("version") == str(want["version"]) else "config_pending")
            for code in found:
                problems.setdefault(code, []).append(f"{key[0]}/{key[1]}")
            items.append({
                "site": key[0], "kiosk": key[1],
                "registered": reg is not None and not revoked, "revoked_at": reg["revoked_at"] if reg else None,
                "state": status["state"] if status else None,
                "last_seen": status["last_seen"] if status else None,
                "status_ts": status["status_ts"] if status else None,
                "clock_offset_s": offset, "clock_skew": skew,
                "config": config, "roster_version": body.get("roster_version"),
                "problems": found,
            })
        return {"clock_skew_max_s": bound, "items": items, "total": len(items),
                "problems": [{"code": code, "count": len(kiosks), "kiosks": kiosks, "message": _MESSAGES[code](
                    len(kiosks), bound)} for code, kiosks in sorted(problems.items())]}


_MESSAGES = {
    "clock_skew": lambda n, bound: f"{n} kiosk(s) report a clock more than {bound:g} s off the hub's: exam times in "
                                   "the journal come from the kiosk's clock (check NTP on the kiosk)",
    "offline": lambda n, bound: f"{n} kiosk(s) offline (their last status said so)",
    "config_unpublished": lambda n, bound: f"{n} kiosk(s) have a stored configuration the broker has not confirmed: "
                                           "POST /api/v1/fleet/{site}/{kiosk}/config/republish",
    "config_pending": lambda n, bound: f"{n} online kiosk(s) do not run their desired configuration yet (it waits "
                                       "for no exam in progress, or has not arrived)",
    "config_rejected": lambda n, bound: f"{n} kiosk(s) rejected their desired configuration: see running.rejected "
                                        "in GET /api/v1/fleet/{site}/{kiosk}/config",
}
