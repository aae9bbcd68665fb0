"""s3:// input and output against a local S3-compatible server (moto's server mode on loopback)."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers import bucket_keys, fmops

pytestmark = pytest.mark.slow
BUCKET = "fmops-test"


def keys(prefix: str) -> list[str]:
    return bucket_keys(BUCKET, prefix)


def test_s3_data_and_output_with_resume_from_s3_checkpoint(s3_env, demo_dir):
    import boto3

    s3 = boto3.client("s3")
    s3.upload_file(str(demo_dir / "pretrain.jsonl"), BUCKET, "data/pretrain.jsonl")
    s3.upload_file(str(demo_dir / "replay.jsonl"), BUCKET, "data/replay.jsonl")
    args = [
        "pretrain",
        "--model",
        "tiny",
        "--data",
        f"s3://{BUCKET}/data/pretrain.jsonl",
        "--replay",
        f"s3://{BUCKET}/data/replay.jsonl",
        "--replay-ratio",
        "0.5",
        "--output",
        f"s3://{BUCKET}/runs/one",
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
    ]
    fmops(*args, env=s3_env)

    written = keys("runs/one/")
    for name in [
        "manifest.json",
        "metrics.json",
        "loss.png",
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "checkpoints/step-00000004/complete.json",
    ]:
        assert f"runs/one/{name}" in written
    assert not any(key.startswith("runs/one/checkpoints/.tmp") for key in written)
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="runs/one/manifest.json")["Body"].read())
    assert manifest["inputs"]["data"][0]["uri"] == f"s3://{BUCKET}/data/pretrain.jsonl"
    assert len(manifest["inputs"]["data"][0]["sha256"]) == 64
    assert manifest["metrics"]["replay_loss"] is not None

    # An interrupted final upload (no manifest, no model) resumes from the s3 checkpoint: no step is redone.
    for key in ["runs/one/manifest.json", "runs/one/model.safetensors"]:
        s3.delete_object(Bucket=BUCKET, Key=key)
    result = fmops(*args, env=s3_env)
    assert "step-00000004 at step 4 of 4" in result.stderr
    metrics = json.loads(s3.get_object(Bucket=BUCKET, Key="runs/one/metrics.json")["Body"].read())
    assert metrics["resumed_at"] == [4]
    assert "runs/one/manifest.json" in keys("runs/one/")


def test_endpoint_is_honoured_by_storage(s3_env):
    from fmops.core import storage

    storage.atomic_write_text(f"s3://{BUCKET}/probe.txt", "ok")
    assert keys("probe") == ["probe.txt"]
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
