"""Kill a run while it writes a checkpoint, rerun the same command: it resumes and matches an unbroken run."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fmops.core import manifest
from fmops.core.errors import InputError
from fmops.training import checkpoint_store

from tests.helpers import ROOT, fmops

pytestmark = pytest.mark.slow

# Tiny and fast: 12 steps of 8 x 32 tokens, a checkpoint every 4 steps, replay mixed in.
SMALL = [
    "--set",
    "max_steps=12",
    "--set",
    "max_length=32",
    "--set",
    "per_device_train_batch_size=8",
    "--set",
    "save_steps=4",
    "--set",
    "eval_steps=0",
    "--set",
    "eval_blocks=4",
    "--replay-ratio",
    "0.25",
]
# Started first in the killed run's interpreter (a sitecustomize module on PYTHONPATH): it wraps the function
# that makes a written checkpoint visible, so the run pauses at step STEP with everything written but the
# completion marker, the moment a kill is most harmful. (tests/e2e/torchrun.py has the same hook for 2 ranks.)
HANG_HOOK = """
import time
from pathlib import Path

from fmops.training import checkpoint_store

_publish = checkpoint_store.publish


def _publish_or_hang(written, root, step, *rest):
    if step == STEP:
        (Path(written) / "HANGING").write_text("waiting to be killed\\n")
        while True:
            time.sleep(1)
    return _publish(written, root, step, *rest)


checkpoint_store.publish = _publish_or_hang
"""


class Payload:
    """Unpickling this creates `path`: the stand-in for code planted in a checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):  # noqa: ANN204 (the pickle protocol)
        return (open, (self.path, "w"))


def command(demo_dir: Path, output: Path) -> list[str]:
    return [
        "pretrain",
        "--model",
        "tiny",
        "--data",
        str(demo_dir / "pretrain.jsonl"),
        "--replay",
        str(demo_dir / "replay.jsonl"),
        "--output",
        str(output),
        *SMALL,
    ]


def losses(output: Path) -> dict[int, float]:
    metrics = json.loads((output / "metrics.json").read_text())
    return {h["step"]: h["loss"] for h in metrics["history"]}


def kill_while_writing(args: list[str], output: Path, step: int, hook_dir: Path, timeout: float = 300) -> None:
    """Start the run with the checkpoint-writing pause at `step`, SIGKILL it there."""
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HANG_HOOK.replace("STEP", str(step)))
    path = os.pathsep.join(p for p in (str(hook_dir), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fmops", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    hanging = output / "checkpoints" / f".tmp-{checkpoint_store.name(step)}" / "HANGING"
    deadline = time.monotonic() + timeout
    while not hanging.exists():
        assert process.poll() is None, f"run exited {process.returncode} before the checkpoint at step {step}"
        assert time.monotonic() < deadline, "run never reached the checkpoint"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_sigkill_while_checkpointing_then_rerun_matches_uninterrupted(tmp_path, demo_dir):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    fmops(*command(demo_dir, reference))

    kill_while_writing(command(demo_dir, killed), killed, step=8, hook_dir=tmp_path / "hook")
    # The half-written checkpoint exists but is ignored; the output is not complete.
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == [".tmp-step-00000008", "step-00000004"]
    assert not (killed / "checkpoints" / ".tmp-step-00000008" / checkpoint_store.MARKER).exists()
    assert checkpoint_store.latest(str(killed / "checkpoints")) == str(killed / "checkpoints" / "step-00000004")
    assert not (killed / "manifest.json").exists()
    with pytest.raises(InputError, match="incomplete fmops output"):
        manifest.require_complete_model(str(killed))

    # A rank file planted in the checkpoint to resume from is refused, one line, before anything unpickles it.
    rank_file = killed / "checkpoints" / "step-00000004" / "rank-0.pt"
    original, ran = rank_file.read_bytes(), tmp_path / "payload-ran"
    rank_file.write_bytes(pickle.dumps(Payload(ran)))
    refused = fmops(*command(demo_dir, killed), check=False)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines()[-1].startswith(f"fmops pretrain: error: {rank_file}: differs")
    assert not ran.exists()
    rank_file.write_bytes(original)

    result = fmops(*command(demo_dir, killed))
    assert "step-00000004 at step 4 of 12" in result.stderr
    metrics = json.loads((killed / "metrics.json").read_text())
    assert metrics["resumed_at"] == [4]
    expected, got = losses(reference), losses(killed)
    assert sorted(got) == list(range(1, 13))
    for step in range(5, 13):
        assert got[step] == pytest.approx(expected[step], abs=1e-6), f"step {step}"
    assert metrics["replay_loss"] == pytest.approx(
        json.loads((reference / "metrics.json").read_text())["replay_loss"], abs=1e-6
    )
    # The leftover of the killed write was pruned once newer checkpoints were complete.
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["step-00000008", "step-00000012"]
    assert manifest.read(str(killed))["metrics"]["steps"] == 12

    again = fmops(*command(demo_dir, killed))  # a retry after success changes nothing
    assert "already complete" in again.stderr
