"""2 ranks (DDP on CPU/gloo) training to s3://: every rank writes its own part of each checkpoint, a run killed
while writing the second one resumes from the first, and its losses equal an uninterrupted 2-rank run's."""

from __future__ import annotations

import json

import pytest

from tests.e2e.torchrun import HANG_AT_PUBLISH, environment, kill_when, run, torchrun

pytestmark = pytest.mark.slow
BUCKET = "fmops-ckpt-ddp"
# 6 steps of 2 ranks x 4 x 32 tokens, a checkpoint every 2 steps: the kill comes at the second (step 4).
SMALL = [
    "--set",
    "max_steps=6",
    "--set",
    "max_length=32",
    "--set",
    "per_device_train_batch_size=4",
    "--set",
    "save_steps=2",
    "--set",
    "eval_steps=0",
    "--set",
    "eval_blocks=4",
]


def keys(prefix: str) -> list[str]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"].removeprefix(prefix) for page in pages for item in page.get("Contents", []))


def losses(run_prefix: str) -> dict[int, float]:
    import boto3

    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{run_prefix}/metrics.json")["Body"].read()
    return {h["step"]: h["loss"] for h in json.loads(body)["history"]}


def pretrain(demo_dir, run_prefix: str) -> list[str]:
    return torchrun(
        [
            "pretrain",
            "--model",
            "tiny",
            "--data",
            str(demo_dir / "pretrain.jsonl"),
            "--output",
            f"s3://{BUCKET}/{run_prefix}",
            *SMALL,
        ]
    )


# What each rank writes into a checkpoint itself (DCP spreads the replicated DDP tensors over both ranks).
RANK_PARTS = ["rank-0.pt", "rank-1.pt", "sharded/__0_0.distcp", "sharded/__1_0.distcp"]


def test_two_ranks_killed_mid_checkpoint_on_s3_resume_exactly(s3_env, demo_dir, tmp_path):
    run(pretrain(demo_dir, "reference"), environment(s3_env))
    reference = losses("reference")

    flag = tmp_path / "hanging"
    hook = HANG_AT_PUBLISH.replace("STEP", "4").replace("FLAG", repr(str(flag)))
    kill_when(pretrain(demo_dir, "killed"), environment(s3_env, hook, tmp_path / "hook"), flag)
    written = keys("killed/checkpoints/")
    for part in [*RANK_PARTS, "sharded/.metadata", "trainer_state.json", "complete.json"]:
        assert f"step-00000002/{part}" in written, part
    # Every rank finished its part of step 4 (the main rank waited for them), but it has no marker: invisible.
    assert all(f"step-00000004/{part}" in written for part in RANK_PARTS)
    assert "step-00000004/complete.json" not in written
    assert not any(key.startswith(("killed/manifest.json", "killed/model")) for key in keys(""))

    result = run(pretrain(demo_dir, "killed"), environment(s3_env))
    assert "step-00000002 at step 2 of 6" in result.stderr
    got = losses("killed")
    assert sorted(got) == list(range(1, 7))
    for step in range(3, 7):
        assert got[step] == pytest.approx(reference[step], abs=1e-5), f"step {step}"
    after = keys("killed/checkpoints/")
    assert sorted({key.split("/")[0] for key in after}) == ["step-00000004", "step-00000006"]  # pruned to 2
    for part in [*RANK_PARTS, "complete.json"]:
        assert f"step-00000006/{part}" in after, part
    output = keys("killed/")
    assert {"manifest.json", "model.safetensors", "config.json", "metrics.json"} <= set(output)
