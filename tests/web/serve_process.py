"""``python main.py serve`` in a process of its own, for the tests and benchmarks that need a
real server: the browser tests, the fault test and the load benchmark."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``serve`` for one study and store on one loopback port, the same across restarts; its
    output is appended to ``log`` (never a pipe nobody reads, which a chatty server would fill)."""

    def __init__(
        self,
        study: str | Path,
        store: str | Path,
        log: Path,
        *,
        pilot: bool = False,
        completion_url: str | None = None,
    ) -> None:
        self.study = str(study)
        self.store = store
        self.log = log
        self.pilot = pilot
        self.completion_url = completion_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        command = [sys.executable, "main.py", "serve", "--study", self.study, "--store", str(self.store)]
        command += ["--port", str(self.port)]
        command += ["--pilot"] if self.pilot else []
        command += ["--completion-url", self.completion_url] if self.completion_url else []
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/config", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server did not answer within {timeout_s:g} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown, nothing but what the store committed survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
