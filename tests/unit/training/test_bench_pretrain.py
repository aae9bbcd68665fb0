"""`fmops bench pretrain` without measuring: bad flags are one line, exit 2; the report's keys and anchor check."""

from __future__ import annotations

import pytest
from fmops.bench import training as pretrain
from fmops.training import flops

from tests.helpers import cli


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--model-size", "7b", "--model-size '7b': expected tiny, 124m, 1b (comma-separated)"),
        ("--steps", "0", "--steps 0: must be at least 1"),
        ("--warmup", "0", "--warmup 0: must be at least 1"),
        ("--batch", "two", "--batch 'two': expected an integer"),
        ("--seq-len", "4", "--seq-len 4: must be at least 8"),
    ],
)
def test_bad_flag_is_one_line_exit_2(flag, value, message):
    result = cli("bench", "pretrain", "--model-size", "tiny", flag, value)
    assert result.returncode == 2
    assert result.stderr == f"fmops bench: error: {message}\n"


def fake_run(size: str, ours: float, baseline: float, device: str = "NVIDIA H100 80GB HBM3") -> dict:
    def measured(tokens_per_s: float) -> dict:
        fpt = 6 * 124e6
        return {
            "tokens_per_s": tokens_per_s,
            "mfu": flops.mfu(tokens_per_s, fpt, device),
            "mfu_note": flops.mfu_note(device),
            "peak_memory_gib": 10.0,
            "peak_memory_kind": "cuda_max_memory_allocated",
        }

    settings = {
        "steps": 30,
        "warmup": 10,
        "batch": pretrain.SIZES[size]["batch"],
        "seq_len": pretrain.SIZES[size]["seq_len"],
    }
    return {
        **settings,
        "device": device,
        "ours": measured(ours),
        "baseline": measured(baseline),
        "ratio": ours / baseline,
    }


def test_gpu_report_has_the_required_keys_and_checks_the_anchor():
    runs = {"124m": fake_run("124m", 360_000, 290_000), "1b": fake_run("1b", 66_000, 50_000)}
    result = pretrain.report(runs, "fmops bench pretrain")
    assert result["ratio_124m"] == pytest.approx(360 / 290) and result["ratio_1b"] == pytest.approx(66 / 50)
    assert result["mfu_124m"] == pytest.approx(360_000 * 6 * 124e6 / 989e12)
    assert result["tokens_per_s"]["1b"] == {"ours": 66_000, "baseline": 50_000}
    assert "rehearsal" not in result["note"] and "ratio_tiny" not in result
    assert result["anchor"]["124m"]["valid"] is True  # 290,000 >= 0.95 x 287,041
    assert result["anchor"]["1b"]["valid"] is False  # 50,000 < 0.95 x 60,438: the run does not count
    assert "1.24x" in pretrain.table(result)
