"""Helpers of the multi-process checkpoint tests: start `torchrun --nproc_per_node 2`, optionally with a
sitecustomize module on PYTHONPATH (code every process runs first), and SIGKILL every process of a run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT

# Started first in every process of the killed run (sitecustomize on PYTHONPATH): the main rank pauses
# where a checkpoint at step STEP has every rank's part written but not its completion marker, the moment a
# kill is most harmful, and says so in FLAG; the other rank waits for it at the barrier.
HANG_AT_PUBLISH = """
import time
from pathlib import Path

from fmops.training import checkpoint_store

_publish = checkpoint_store.publish


def _publish_or_hang(written, root, step, *rest):
    if step == STEP:
        Path(FLAG).write_text(written)
        while True:
            time.sleep(1)
    return _publish(written, root, step, *rest)


checkpoint_store.publish = _publish_or_hang
"""


def torchrun(args: list[str], *, module: bool = True) -> list[str]:
    """The command line of a 2-process CPU (gloo) run of `python -m fmops ARGS` (or of the script ARGS)."""
    runner = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return [*runner, *(["-m", "fmops"] if module else []), *args]


def environment(env: dict[str, str], sitecustomize: str | None = None, hook_dir: Path | None = None) -> dict:
    """`env` over os.environ, one torch thread per process (2 ranks share 2 cores), and the sitecustomize."""
    merged = {**os.environ, **env, "OMP_NUM_THREADS": "1"}
    if sitecustomize is not None and hook_dir is not None:
        hook_dir.mkdir(parents=True, exist_ok=True)
        (hook_dir / "sitecustomize.py").write_text(sitecustomize)
        merged["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook_dir), merged.get("PYTHONPATH", "")) if p)
    return merged


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def kill_when(command: list[str], env: dict[str, str], flag: Path, timeout: float = 300) -> None:
    """Start `command` in its own process group, wait for `flag` to appear, SIGKILL the whole group (every rank
    and torchrun itself, as a node failure would)."""
    log = flag.with_suffix(".log")
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        try:
            while not flag.exists():
                if process.poll() is not None:
                    raise AssertionError(
                        f"run exited {process.returncode} before the kill point: {log.read_text()[-3000:]}"
                    )
                assert time.monotonic() < deadline, "run never reached the kill point"
                time.sleep(0.2)
        finally:
            # torchrun's workers may leave its process group: kill every descendant by ancestry as well
            for pid in [*descendants(process.pid), process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def descendants(root: int) -> list[int]:
    """Every process below `root`, read from /proc (children before the end of the list's parents)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found[::-1]
