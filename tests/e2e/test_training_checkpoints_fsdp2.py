"""FSDP2 checkpoints with world size 2 on s3://, through fmops.training.checkpoint directly.

accelerate (1.15) does not run FSDP on CPU: its AcceleratorState turns ACCELERATE_USE_FSDP into
DistributedType.FSDP only for GPU-like device types, and a CPU/gloo run stays MULTI_CPU (DDP), so `fmops
pretrain` under the fsdp2 configuration cannot be resumed on a CPU. torch's own `fully_shard` does run on
gloo, so the worker shards a tiny Llama with it and saves and loads the way the training loop does: each rank
writes its own shards, and on resume reads back only what it holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.torchrun import environment, run, torchrun

pytestmark = pytest.mark.slow
BUCKET = "fmops-ckpt-fsdp2"
WORKER = str(Path(__file__).with_name("fsdp2_checkpoint_worker.py"))


def test_fsdp2_shards_saved_per_rank_to_s3_and_resumed_exactly(s3_env, tmp_path):
    import boto3

    root = f"s3://{BUCKET}/run/checkpoints"
    env = environment({**s3_env, "PYTHONPATH": str(Path(__file__).parents[2])})
    run(torchrun([WORKER, "reference", root, str(tmp_path / "reference")], module=False), env)
    run(torchrun([WORKER, "resume", root, str(tmp_path / "resume")], module=False), env)
    reference, resumed = (
        [json.loads((tmp_path / f"{mode}.{rank}.json").read_text()) for rank in (0, 1)]
        for mode in ("reference", "resume")
    )

    listing = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="run/checkpoints/step-00000002/")
    sizes = {item["Key"].split("step-00000002/")[1]: item["Size"] for item in listing["Contents"]}
    for part in [
        "sharded/__0_0.distcp",
        "sharded/__1_0.distcp",
        "sharded/.metadata",
        "rank-0.pt",
        "rank-1.pt",
        "trainer_state.json",
        "complete.json",
    ]:
        assert part in sizes, part
    for rank in (0, 1):
        # Really sharded: each rank holds half of every matrix (256 x 64 embedding: 8192 of 16384 values).
        assert resumed[rank]["placements"] == ["(Shard(dim=0),)"]
        assert resumed[rank]["shards"]["model.embed_tokens.weight"] == 8192
        # Resume continued at step 3 with the losses of the uninterrupted run (every rank reports the mean).
        assert sorted(resumed[rank]["losses"]) == ["3", "4"]
        for step in ("3", "4"):
            assert resumed[rank]["losses"][step] == pytest.approx(reference[rank]["losses"][step], abs=1e-5)
    # Each rank read about its own half of the tensors, never the whole checkpoint.
    total = sizes["sharded/__0_0.distcp"] + sizes["sharded/__1_0.distcp"]
    for rank in (0, 1):
        read = sum(resumed[rank]["reads"].values())
        assert 0.4 * total < read < 0.6 * total, (rank, resumed[rank]["reads"], total)
    assert resumed[1]["reads"].get("__0_0.distcp", 0) < 0.1 * sizes["sharded/__0_0.distcp"]
