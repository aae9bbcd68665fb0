"""Kill a run while it writes a checkpoint, rerun the same command: it resumes and matches an unbroken run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fmops.core import manifest
from fmops.core.errors import InputError
from fmops.training import checkpoint

from tests.helpers import ROOT, fmops

pytestmark = pytest.mark.slow

# Tiny and fast: 12 steps of 8 x 32 tokens, a checkpoint every 4 steps, replay mixed in.
SMALL = ["--set", "steps=12", "--set", "seq_len=32", "--set", "batch_size=8", "--set", "checkpoint_interval=4",
         "--set", "eval_interval=0", "--set", "eval_blocks=4", "--replay-ratio", "0.25"]  # fmt: skip


def command(demo_dir: Path, output: Path) -> list[str]:
    return ["pretrain", "--model", "tiny", "--data", str(demo_dir / "pretrain.jsonl"),
            "--replay", str(demo_dir / "replay.jsonl"), "--output", str(output), *SMALL]  # fmt: skip


def losses(output: Path) -> dict[int, float]:
    metrics = json.loads((output / "metrics.json").read_text())
    return {h["step"]: h["loss"] for h in metrics["history"]}


def kill_while_writing(args: list[str], output: Path, step: int, timeout: float = 300) -> None:
    """Start the run with the checkpoint-writing pause at `step`, SIGKILL it there."""
    env = {**os.environ, checkpoint.HANG_ENV: str(step)}
    process = subprocess.Popen([sys.executable, "-m", "fmops", *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    hanging = output / "checkpoints" / f".tmp-{checkpoint.name(step)}" / "HANGING"
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

    kill_while_writing(command(demo_dir, killed), killed, step=8)
    # The half-written checkpoint exists but is ignored; the output is not complete.
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == [".tmp-step-00000008", "step-00000004"]
    assert not (killed / "checkpoints" / ".tmp-step-00000008" / checkpoint.MARKER).exists()
    assert checkpoint.latest(str(killed / "checkpoints")) == str(killed / "checkpoints" / "step-00000004")
    assert not (killed / "manifest.json").exists()
    with pytest.raises(InputError, match="incomplete fmops output"):
        manifest.require_complete_model(str(killed))

    result = fmops(*command(demo_dir, killed))
    assert "resumed from step-00000004 at step 4 of 12" in result.stderr
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
