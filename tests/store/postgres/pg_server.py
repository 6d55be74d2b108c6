"""A throwaway PostgreSQL server in a temporary directory, for tests and benchmarks.

``initdb`` refuses to run as root, so when we are root the cluster belongs to an
unprivileged user (``postgres`` if the Debian package created it, else a ``studytest``
user created here) and every server command runs through ``runuser``. The server listens
on a Unix socket inside its own directory and on 127.0.0.1 at a free port, with
``fsync`` on: the durability the store promises is the one measured.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
USER_CANDIDATES = ("postgres", "studytest")


class ServerError(RuntimeError):
    """The test server could not be set up (no binaries, no user, initdb or start failed)."""


def _binary(name: str) -> str:
    for folder in PG_BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found:
        return found
    raise ServerError(f"PostgreSQL's {name} not found (install the Debian package 'postgresql')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str | None:
    """The user that owns the cluster (None: ourselves, when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in USER_CANDIDATES:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER_CANDIDATES[-1]], check=True
    )
    return USER_CANDIDATES[-1]


class PgServer:
    """One cluster: :meth:`start`, :meth:`stop` (fast shutdown) and :meth:`start` again keep its data."""

    def __init__(self, database: str = "study") -> None:
        self.user = _server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="study-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.database = database
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run(
            [
                _binary("initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-instructions",
            ]
        )
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                "max_connections = 200\nfsync = on\nsynchronous_commit = on\n"
            )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, command: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServerError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}\n{log}")
        return result

    def start(self) -> None:
        self._run([_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or self.database
        self._run([_binary("createdb"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres", name])
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run([_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"])

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop the server if it runs and delete its directory."""
        try:
            if self.is_running():
                self.stop()
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.dir, ignore_errors=True)
