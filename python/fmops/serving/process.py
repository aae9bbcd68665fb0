"""Run `fmops serve` as a child process: start it, wait until it answers, stop it with SIGTERM.

`fmops deploy --target local` and the tests use this, so the server they talk to is the same command a
user runs, not an in-process imitation.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class ServerFailed(RuntimeError):
    """The server exited or did not answer before its deadline."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def get_json(url: str, timeout: float = 2.0) -> dict | None:
    """GET a JSON document; None while the server is not answering yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, urllib.error.URLError, json.JSONDecodeError):
        return None


def answers(url: str, timeout: float = 2.0) -> bool:
    """GET answers 200 (vLLM's `/health` has an empty body, transformers serve's a JSON one)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_for_health(base: str, process: subprocess.Popen, timeout: float = float("inf")) -> bool:
    """Poll `base/health` until it answers (True) or the process exits or the time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if answers(f"{base}/health"):
            return True
        time.sleep(0.25)
    return False


def wait_for_socket_health(path: str, process: subprocess.Popen, timeout: float = float("inf")) -> bool:
    """`wait_for_health` for a server on a Unix socket."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url="http://model", timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get("/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    return False


@dataclass
class LocalServer:
    """`fmops serve --model MODEL` on loopback. Use as a context manager; `base_url` ends in /v1."""

    model: str
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = ""
    threads: int = 0
    """torch CPU threads of the server (`fmops serve --threads`); 0: torch's default."""
    engine: str = "transformers"
    """`fmops serve --engine`: transformers, vllm or auto."""
    served_model_name: str = ""
    """vLLM's model id (`--served-model-name`); '' = the model directory."""
    max_model_len: int = 0
    startup_timeout: float = 120.0
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the server, e.g. OMP_NUM_THREADS=1 on oversubscribed CPUs."""
    process: subprocess.Popen | None = field(default=None, init=False)
    log_path: Path | None = field(default=None, init=False)
    ready_after_s: float | None = field(default=None, init=False)
    exit_code: int | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LocalServer:
        self.port = self.port or free_port(self.host)
        command = [
            sys.executable,
            "-m",
            "fmops",
            "serve",
            "--model",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.threads:
            command += ["--threads", str(self.threads)]
        if self.engine != "transformers":
            command += ["--engine", self.engine, "--ready-timeout", str(self.startup_timeout)]
        if self.served_model_name:
            command += ["--served-model-name", self.served_model_name]
        if self.max_model_len:
            command += ["--max-model-len", str(self.max_model_len)]
        log = tempfile.NamedTemporaryFile(prefix="fmops-serve-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        started = time.monotonic()
        # the key travels in the environment, not on the command line, where `ps` would show it
        env = {**os.environ, **self.env, "FMOPS_API_KEY": self.api_key}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.wait_ready(started)
        return self

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path else ""

    def wait_ready(self, started: float) -> None:
        """Ready = `/health` answers 200 (both servers load the model before they start listening)."""
        assert self.process is not None
        remaining = started + self.startup_timeout - time.monotonic()
        if wait_for_health(f"http://{self.host}:{self.port}", self.process, remaining):
            self.ready_after_s = time.monotonic() - started
            return
        if self.process.poll() is not None:
            status = self.process.returncode
            raise ServerFailed(f"fmops serve exited with status {status}:\n{self.log_tail()}")
        self.stop()
        waited = f"{self.startup_timeout:.0f} s"
        raise ServerFailed(f"fmops serve did not answer within {waited}:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not stop in time. Returns the exit status."""
        if self.process is None:
            return self.exit_code if self.exit_code is not None else 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.exit_code = self.process.returncode
        self.process = None
        return self.exit_code

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.log_path:
            self.log_path.unlink(missing_ok=True)
