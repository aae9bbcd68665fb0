"""Pretraining on token shards from `fmops tokenize`, on s3:// (moto's server on loopback): it trains with
documents kept apart, and a rerun resuming from the middle checkpoint retrains the same steps to the same
losses, because the blocks a step reads are a pure function of the step."""

from __future__ import annotations

import json

import pytest

from tests.helpers import create_bucket, fmops

pytestmark = pytest.mark.slow
BUCKET = "fmops-tokens"


def read_json(key: str) -> dict:
    import boto3

    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_pretrain_on_s3_shards_resumes_to_the_same_losses(s3_server, demo_dir):
    import boto3

    create_bucket(BUCKET)
    tokens = f"s3://{BUCKET}/tokens/demo"
    fmops(
        "tokenize",
        "--model",
        "tiny",
        "--data",
        str(demo_dir / "pretrain.jsonl"),
        "--output",
        tokens,
        "--shard-tokens",
        "20000",
        env=s3_server,
    )
    index = read_json("tokens/demo/index.json")
    assert len(index["shards"]) > 2 and index["tokenizer"]["dir"] == "tokenizer"

    args = [
        "pretrain",
        "--model",
        "tiny",
        "--data",
        tokens,
        "--output",
        f"s3://{BUCKET}/runs/one",
        "--set",
        "max_steps=4",
        "--set",
        "max_length=64",
        "--set",
        "per_device_train_batch_size=4",
        "--set",
        "save_steps=2",
        "--set",
        "eval_blocks=4",
        "--set",
        "separate_documents=true",
    ]
    fmops(*args, env=s3_server)
    first = read_json("runs/one/metrics.json")
    manifest = read_json("runs/one/manifest.json")
    assert manifest["inputs"]["data"][0]["uri"] == tokens and manifest["inputs"]["data"][0]["tokens"] == index["tokens"]
    assert first["unigram_entropy"] == pytest.approx(index["unigram_entropy"])

    s3 = boto3.client("s3")  # as if the run had died after step 2's checkpoint
    for key in ["runs/one/manifest.json", "runs/one/metrics.json", "runs/one/checkpoints/step-00000004/complete.json"]:
        s3.delete_object(Bucket=BUCKET, Key=key)
    result = fmops(*args, env=s3_server)
    assert "step-00000002 at step 2 of 4" in result.stderr  # resumed from the middle checkpoint
    again = read_json("runs/one/metrics.json")
    assert again["resumed_at"] == [2]
    losses = [[record["loss"] for record in run["history"]] for run in (first, again)]
    assert losses[1] == pytest.approx(losses[0], abs=1e-5)
