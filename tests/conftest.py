"""Shared fixtures. Trained models are built once per test session, even under pytest-xdist:
the first worker trains and the others wait on a file lock, then reuse the output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    from fmops.data.demo import shipped_dir

    return shipped_dir()


def fmops(
    *args: str, check: bool = True, timeout: float = 600, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed `fmops` command the way a user does; output captured as text."""
    result = subprocess.run(
        [sys.executable, "-m", "fmops", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT,
        # one torch thread per process: the suite runs two workers on two cores, and torch's spinning
        # OpenMP threads slow down several-fold on oversubscribed cores
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), **(env or {})},
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"fmops {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def shared_output(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory built once for the whole session (across xdist workers), then reused."""
    basetemp = tmp_path_factory.getbasetemp()
    # xdist workers get basetemp/popen-gwN: their parent is this session's; without xdist it is basetemp itself
    # (its parent holds every earlier session, whose outputs must not be reused).
    root = (basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp) / "shared"
    root.mkdir(exist_ok=True)
    output = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (output / "manifest.json").exists():
            build(output)
    return output


@pytest.fixture
def s3_server(monkeypatch) -> Iterator[dict[str, str]]:
    """moto's S3-compatible server on loopback; the environment that reaches it is set and returned."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    server.stop()


def create_bucket(name: str) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket=name)


@pytest.fixture(scope="session")
def pretrained_model(tmp_path_factory, demo_dir) -> Path:
    """`fmops pretrain --model tiny` on the demo corpus (the `demo` recipe)."""
    return shared_output(tmp_path_factory, "pretrain", lambda out: fmops(
        "pretrain", "--model", "tiny", "--data", str(demo_dir / "pretrain.jsonl"),
        "--output", str(out), "--config", "demo"))  # fmt: skip


@pytest.fixture(scope="session")
def sft_model(tmp_path_factory, demo_dir, pretrained_model) -> Path:
    return shared_output(tmp_path_factory, "sft", lambda out: fmops(
        "sft", "--model", str(pretrained_model), "--data", str(demo_dir / "sft.jsonl"),
        "--output", str(out), "--config", "demo"))  # fmt: skip


@pytest.fixture(scope="session")
def dpo_model(tmp_path_factory, demo_dir, sft_model) -> Path:
    return shared_output(tmp_path_factory, "dpo", lambda out: fmops(
        "dpo", "--model", str(sft_model), "--data", str(demo_dir / "dpo.jsonl"),
        "--output", str(out), "--config", "demo"))  # fmt: skip
