"""SFT on 2 ranks (DDP on CPU/gloo) to s3://: one manifest, written by the main rank after the model is saved,
and every rank's part of each checkpoint (its RNG state) in the bucket."""

from __future__ import annotations

import json

import pytest

from tests.e2e.torchrun import environment, run, torchrun

pytestmark = pytest.mark.slow
BUCKET = "fmops-ckpt-sft"
# Started first in every process: each call of manifest.write appends "<rank> <model saved?>" to LOG.
RECORD_MANIFEST_WRITES = """
import os

from fmops.core import manifest, storage

_write = manifest.write


def _recorded(output, **kwargs):
    saved = storage.exists(storage.join(output, "model.safetensors"))
    with open(LOG, "a") as log:
        log.write(f"{os.environ.get('RANK', '-')} {saved}\\n")
    return _write(output, **kwargs)


manifest.write = _recorded
"""


def test_sft_on_two_ranks_writes_one_manifest_after_the_model(s3_env, tiny_model, demo_dir, tmp_path):
    import boto3

    data = tmp_path / "sft.jsonl"
    data.write_text("".join((demo_dir / "sft.jsonl").read_text().splitlines(keepends=True)[:16]))
    log = tmp_path / "manifest-writes.log"
    hook = RECORD_MANIFEST_WRITES.replace("LOG", repr(str(log)))
    result = run(
        torchrun(
            [
                "sft",
                "--model",
                str(tiny_model),
                "--data",
                str(data),
                "--output",
                f"s3://{BUCKET}/sft",
                "--config",
                "",
                "--set",
                "max_steps=2",
                "--set",
                "save_steps=2",
                "--set",
                "per_device_train_batch_size=2",
                "--set",
                "logging_steps=1",
            ]
        ),
        environment(s3_env, hook, tmp_path / "hook"),
    )
    assert log.read_text().splitlines() == ["0 True"]  # one write, by rank 0, with the model already there
    assert result.stdout.count("s3://") == 1  # the output URI, printed once
    s3 = boto3.client("s3")
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="sft/")["Contents"]}
    assert {"sft/manifest.json", "sft/model.safetensors", "sft/metrics.json"} <= keys
    for part in ["rng_state_0.pth", "rng_state_1.pth", "trainer_state.json", "complete.json"]:
        assert f"sft/checkpoints/step-00000002/{part}" in keys, part
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="sft/manifest.json")["Body"].read())
    assert manifest["stage"] == "sft" and manifest["metrics"]["steps"] == 2
