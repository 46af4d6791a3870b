"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` binaries (initdb, pg_ctl) on
a free port, with its data in a temporary folder, removed afterwards.

PostgreSQL refuses to run as root; when the tests run as root the server runs as ``nobody`` (the
folder is handed to that user). Authentication is ``trust`` on 127.0.0.1 and the folder's socket only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from firmware_bridges.ports import free_port


def postgres_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<major>/bin`` (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PostgresServer:
    bin: Path
    root: Path
    port: int
    user: str = "postgres"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(_as_server_user([str(self.bin / argv[0]), *argv[1:]]), check=True, timeout=timeout,
                              capture_output=True, text=True, cwd=self.root)

    def start(self) -> "PostgresServer":
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--encoding=UTF8",
                      "--locale=C.UTF-8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start", timeout=90)
        return self

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 4000) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def start_postgres() -> PostgresServer:
    """Start a server (raises RuntimeError with what to install when the binaries are missing)."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql (tests/run.sh does)")
    root = Path(tempfile.mkdtemp(prefix="ohs-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
    os.chmod(root, 0o700)
    server = PostgresServer(binaries, root, free_port("127.0.0.1"))
    deadline = time.monotonic() + 5
    while True:
        try:
            return server.start()
        except subprocess.CalledProcessError as error:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"PostgreSQL did not start: {error.stderr}\n{server.log_tail()}") from error
            server.port = free_port("127.0.0.1")  # the port was taken meanwhile: try another
