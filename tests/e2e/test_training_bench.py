"""`fmops bench pretrain`: the stage's training function and the Trainer baseline, measured in one CPU run."""

from __future__ import annotations

import json

import pytest
from fmops.bench import training as pretrain

from tests.helpers import cli, fmops

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench-pretrain") / "bench.json"
    result = fmops(
        "bench",
        "pretrain",
        "--model-size",
        "tiny",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--output",
        str(output),
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    return result, json.loads(output.read_text())


def test_both_measurements_and_their_ratio(tiny_run):
    result, report = tiny_run
    ours, baseline = report["tokens_per_s"]["tiny"]["ours"], report["tokens_per_s"]["tiny"]["baseline"]
    assert ours > 0 and baseline > 0
    assert report["ratio_tiny"] == pytest.approx(ours / baseline, rel=1e-12)
    run = report["runs"]["tiny"]
    assert run["ours"]["path"].startswith("fmops.training.loop.train")
    assert run["baseline"]["path"].startswith("transformers.Trainer")
    # same tokens per optimizer step and sequence length, 3 timed steps of 4 x 128 tokens each
    assert run["ours"]["tokens_per_step"] == run["baseline"]["tokens_per_step"] == 4 * 128
    assert run["ours"]["timed_tokens"] == run["baseline"]["timed_tokens"] == 3 * 4 * 128
    assert run["ours"]["parameters"] == run["baseline"]["parameters"]
    assert 1e5 < run["ours"]["parameters"] < 1e6
    assert "tiny" in result.stdout and "ours/baseline" in result.stdout


def test_cpu_device_mfu_null_with_reason_and_the_reported_keys(tiny_run):
    _, report = tiny_run
    assert report["device"].startswith("cpu")
    assert report["mfu_tiny"] is None
    assert "no bf16 peak for 'cpu" in report["mfu_note"]
    assert "CPU rehearsal" in report["note"]
    for key in ("date", "versions", "ratio_124m", "ratio_1b", "mfu_124m", "mfu_1b", "tokens_per_s"):
        assert key in report
    assert (report["ratio_124m"], report["ratio_1b"], report["tokens_per_s"]["124m"]) == (None, None, None)
    assert report["versions"]["torch"] and report["versions"]["transformers"]
    assert report["peak_memory_kind"] == "process_max_rss"
    assert report["peak_memory_gib"]["tiny"]["ours"] > 0
    assert report["runs"]["tiny"]["baseline"]["compiled"] is False  # torch_compile is dropped on CPU
    assert report["runs"]["tiny"]["baseline"]["dropped_on_cpu"] == [
        "bf16 (fp32 on CPU)",
        "torch_compile",
        "adamw_torch_fused (adamw_torch on CPU)",
    ]


def test_a_failed_size_is_listed_the_others_kept_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    broken = {**pretrain.SIZES["tiny"]["shape"], "num_attention_heads": 3}  # hidden 128 is not divisible by 3
    monkeypatch.setitem(pretrain.SIZES, "124m", {"seq_len": 16, "batch": 1, "shape": broken})
    output = tmp_path / "bench.json"
    result = cli(
        "bench", "pretrain", "--model-size", "124m,tiny", "--steps", "1", "--warmup", "1", "--output", str(output)
    )
    assert result.returncode == 1
    report = json.loads(output.read_text())
    assert report["failed"] == ["124m"]
    assert report["ratio_124m"] is None and report["tokens_per_s"]["124m"] is None
    assert report["tokens_per_s"]["tiny"]["ours"] > 0
    assert "the ours measurement of 124m failed" in result.stderr
