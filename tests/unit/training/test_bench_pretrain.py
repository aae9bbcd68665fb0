"""`fmops bench pretrain`: the stage's training function and the Trainer baseline, measured in one CPU run."""

from __future__ import annotations

import argparse
import json

import pytest
from fmops.bench import pretrain
from fmops.training import flops

from tests.helpers import fmops


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench-pretrain") / "bench.json"
    result = fmops("bench", "pretrain", "--model-size", "tiny", "--steps", "3", "--warmup", "1",
                   "--output", str(output), check=False, timeout=300)  # fmt: skip
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


def test_cpu_device_mfu_null_with_reason_and_issue_keys(tiny_run):
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
        "bf16 (fp32 on CPU)", "torch_compile", "adamw_torch_fused (adamw_torch on CPU)"]  # fmt: skip


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--model-size", "7b", "--model-size '7b': expected tiny, 124m, 1b (comma-separated)"),
    ("--steps", "0", "--steps 0: must be at least 1"),
    ("--warmup", "0", "--warmup 0: must be at least 1"),
    ("--batch", "two", "--batch 'two': expected an integer"),
    ("--seq-len", "4", "--seq-len 4: must be at least 8"),
])  # fmt: skip
def test_bad_flag_is_one_line_exit_2(flag, value, message):
    result = fmops("bench", "pretrain", "--model-size", "tiny", flag, value, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"fmops bench: error: {message}"]


def fake_run(size: str, ours: float, baseline: float, device: str = "NVIDIA H100 80GB HBM3") -> dict:
    def measured(tokens_per_s: float) -> dict:
        fpt = 6 * 124e6
        return {"tokens_per_s": tokens_per_s, "mfu": flops.mfu(tokens_per_s, fpt, device),
                "mfu_note": flops.mfu_note(device), "peak_memory_gib": 10.0,
                "peak_memory_kind": "cuda_max_memory_allocated"}  # fmt: skip

    settings = {
        "steps": 30,
        "warmup": 10,
        "batch": pretrain.SIZES[size]["batch"],
        "seq_len": pretrain.SIZES[size]["seq_len"],
    }
    return {**settings, "device": device, "ours": measured(ours), "baseline": measured(baseline),
            "ratio": ours / baseline}  # fmt: skip


def test_gpu_report_has_the_issue_keys_and_checks_the_anchor():
    runs = {"124m": fake_run("124m", 360_000, 290_000), "1b": fake_run("1b", 66_000, 50_000)}
    result = pretrain.report(runs, "fmops bench pretrain")
    assert result["ratio_124m"] == pytest.approx(360 / 290) and result["ratio_1b"] == pytest.approx(66 / 50)
    assert result["mfu_124m"] == pytest.approx(360_000 * 6 * 124e6 / 989e12)
    assert result["tokens_per_s"]["1b"] == {"ours": 66_000, "baseline": 50_000}
    assert "rehearsal" not in result["note"] and "ratio_tiny" not in result
    assert result["anchor"]["124m"]["valid"] is True  # 290,000 >= 0.95 x 287,041
    assert result["anchor"]["1b"]["valid"] is False  # 50,000 < 0.95 x 60,438: the run does not count
    assert "1.24x" in pretrain.table(result)


def test_a_failed_size_is_listed_the_others_kept_and_exit_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    broken = {**pretrain.SIZES["tiny"]["shape"], "num_attention_heads": 3}  # hidden 128 is not divisible by 3
    monkeypatch.setitem(pretrain.SIZES, "124m", {"seq_len": 16, "batch": 1, "shape": broken})
    output = tmp_path / "bench.json"
    args = argparse.Namespace(model_size="124m,tiny", steps="1", warmup="1", batch="", seq_len="", output=str(output))
    assert pretrain.run(args) == 1
    report = json.loads(output.read_text())
    assert report["failed"] == ["124m"]
    assert report["ratio_124m"] is None and report["tokens_per_s"]["124m"] is None
    assert report["tokens_per_s"]["tiny"]["ours"] > 0
    assert "the ours measurement of 124m failed" in capsys.readouterr().err
