"""What tests call: the `fmops` command in-process (fast, for messages and exit codes) or as a subprocess
(the contract a user and Argo see), a session-wide output cache, and S3 bucket set-up."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliResult:
    """What one `fmops` invocation left: its exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> CliResult:
    """`fmops ARGS` through the console script's own entry, in this process: exit codes and messages exactly
    as a user sees them (argparse's exit 2 included), without paying for a new interpreter."""
    from fmops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:  # argparse: usage errors and --help
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return CliResult(int(code), out.getvalue(), err.getvalue())


def fmops(
    *args: str, check: bool = True, timeout: float = 600, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed `fmops` command in a new process, the way a user or an Argo step does."""
    result = subprocess.run(
        [sys.executable, "-m", "fmops", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        # one torch thread per process: the suite runs two workers on two cores, and torch's spinning
        # OpenMP threads slow down several-fold on oversubscribed cores
        env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), **(env or {})},
    )
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


def create_bucket(name: str) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket=name)


def shared_dir(name: str) -> Path:
    """`../shared/<name>` beside the checkout (upstream schemas and examples); skips when absent, except
    under CI=true, where a missing directory is a failure (CI always has it)."""
    path = ROOT.parent / "shared" / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} not found: CI runs with ../shared beside the checkout")
        pytest.skip(f"{path} not found: upstream schemas and examples live in ../shared beside the checkout")
    return path


def bucket_keys(bucket: str, prefix: str) -> list[str]:
    """The object keys under `prefix` in `bucket`, sorted."""
    import boto3

    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


class Payload:
    """Unpickling this creates `path`: the stand-in for arbitrary code in a planted pickle."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # noqa: ANN204 (the pickle protocol)
        return (open, (self.path, "w"))


def pipeline_replay(demo_dir: Path) -> list[str]:
    """The replay the pipeline's pretraining phase uses (workflows/fmops-pipeline.yaml, replay-ratio 0.1): the
    demo recipes' margins are measured on that data stream (benchmarks/addition-skill-cpu.json)."""
    return ["--replay", str(demo_dir / "replay.jsonl"), "--replay-ratio", "0.1"]
