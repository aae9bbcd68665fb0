"""`fmops sft` with s3:// model, data and output (moto's server on loopback), resuming from an S3 checkpoint;
and on parquet data on S3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import bucket_keys, fmops

pytestmark = pytest.mark.slow
BUCKET = "fmops-sft-test"


def keys(prefix: str) -> list[str]:
    return bucket_keys(BUCKET, prefix)


def upload(local: Path, key: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    for file in [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file()):
        name = key if local.is_file() else f"{key}/{file.relative_to(local).as_posix()}"
        s3.upload_file(str(file), BUCKET, name)


def test_s3_in_and_out_with_resume(s3_env, pretrained_model, demo_dir, tmp_path):
    small = tmp_path / "sft.jsonl"
    small.write_text("".join((demo_dir / "sft.jsonl").read_text().splitlines(keepends=True)[:48]))
    upload(small, "data/sft.jsonl")
    for name in os.listdir(pretrained_model):
        if name != "checkpoints":
            upload(pretrained_model / name, f"models/pt/{name}")
    args = [
        "sft",
        "--model",
        f"s3://{BUCKET}/models/pt",
        "--data",
        f"s3://{BUCKET}/data/sft.jsonl",
        "--output",
        f"s3://{BUCKET}/runs/sft",
        "--set",
        "save_steps=1",
        "--set",
        "save_total_limit=1",
    ]
    fmops(*args, "--set", "max_steps=1", env=s3_env)
    written = keys("runs/sft/")
    for name in [
        "manifest.json",
        "metrics.json",
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "checkpoints/step-00000001/trainer_state.json",
        "checkpoints/step-00000001/complete.json",
    ]:
        assert f"runs/sft/{name}" in written, written
    assert not any(".incomplete" in key for key in written)

    second = fmops(*args, "--set", "max_steps=2", env=s3_env)
    assert "resuming from" in second.stderr and "step-00000001" in second.stderr
    checkpoints = {key.split("/")[3] for key in keys("runs/sft/checkpoints/")}
    assert checkpoints == {"step-00000002"}  # save_total_limit=1 pruned the first on S3 too


def test_trains_on_parquet_on_s3(s3_env, pretrained_model, demo_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [json.loads(line) for line in (demo_dir / "sft.jsonl").read_text().splitlines()[:32]]
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "sft.parquet")
    upload(tmp_path / "sft.parquet", "data/sft.parquet")
    output = tmp_path / "sft"
    result = fmops(
        "sft",
        "--model",
        str(pretrained_model),
        "--data",
        f"s3://{BUCKET}/data/sft.parquet",
        "--output",
        str(output),
        "--set",
        "max_steps=2",
        "--set",
        "logging_steps=1",
        env=s3_env,
    )
    assert "sft: 32 examples from 1 file(s)" in result.stderr
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["num_tokens"] > 0, metrics
