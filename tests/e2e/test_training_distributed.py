"""The multi-process path on every CI run: `torchrun --nproc_per_node 2` on CPU (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_torchrun_two_ranks_both_train_rank0_writes_model_loads(tmp_path, demo_dir):
    output = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "fmops",
            "pretrain",
            "--model",
            "tiny",
            "--data",
            str(demo_dir / "pretrain.jsonl"),
            "--output",
            str(output),
            "--set",
            "max_steps=4",
            "--set",
            "max_length=32",
            "--set",
            "per_device_train_batch_size=4",
            "--set",
            "save_steps=2",
            "--set",
            "eval_blocks=4",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # Both ranks trained their own half of every global batch: 4 steps x 4 sequences x 32 tokens each.
    assert "[rank 0] trained 512 tokens on this rank" in result.stderr
    assert "[rank 1] trained 512 tokens on this rank" in result.stderr
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["tokens_per_rank"] == [512, 512]
    assert metrics["tokens"] == 1024
    # Only rank 0 wrote the output: one "wrote" line, one manifest. Each checkpoint holds every rank's own part.
    assert result.stdout.count("fmops pretrain: wrote") == 1
    assert json.loads((output / "manifest.json").read_text())["metrics"]["world_size"] == 2
    assert sorted(p.name for p in (output / "checkpoints").iterdir()) == ["step-00000002", "step-00000004"]
    last = output / "checkpoints" / "step-00000004"
    assert sorted(p.name for p in last.glob("rank-*.pt")) == ["rank-0.pt", "rank-1.pt"]
    assert sorted(p.name for p in (last / "sharded").glob("*.distcp")) == ["__0_0.distcp", "__1_0.distcp"]

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(output).eval()
    tokenizer = AutoTokenizer.from_pretrained(output)
    ids = tokenizer("12+34=46\n", return_tensors="pt").input_ids
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    assert loss < metrics["eval_loss_start"]  # the saved weights are the trained ones, not the initial ones
