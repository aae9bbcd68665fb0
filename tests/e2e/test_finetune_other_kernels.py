"""The demo's pretrain -> SFT -> DPO chain under torch's generic CPU kernels (ATEN_CPU_CAPABILITY=default), which
round differently from the vectorised ones the rest of the suite runs with on x86: the recipes must hold their
margins on any CPU, not only on the one the suite happens to run on."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fmops, pipeline_replay

pytestmark = pytest.mark.slow
pytest.importorskip("torch")
from tests.e2e.demo_scores import dpo_reward_accuracy, scores  # noqa: E402

GENERIC_KERNELS = {"ATEN_CPU_CAPABILITY": "default"}


def stage(kind: str, model: str, data: str, output: str, *extra: str) -> None:
    command = [kind, "--model", model, "--data", data, "--output", output, "--config", "demo", *extra]
    fmops(*command, env=GENERIC_KERNELS)


def test_the_finetune_chain_holds_its_margins_on_generic_kernels(tmp_path, demo_dir):
    stage("pretrain", "tiny", str(demo_dir / "pretrain.jsonl"), str(tmp_path / "pretrain"), *pipeline_replay(demo_dir))
    stage("sft", str(tmp_path / "pretrain"), str(demo_dir / "sft.jsonl"), str(tmp_path / "sft"))
    stage("dpo", str(tmp_path / "sft"), str(demo_dir / "dpo.jsonl"), str(tmp_path / "dpo"))
    for name in ("pretrain", "sft", "dpo"):
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["torch"]["cpu_capability"] == "DEFAULT", name
    sft = scores(str(tmp_path / "sft"), str(demo_dir / "eval"))
    dpo = scores(str(tmp_path / "dpo"), str(demo_dir / "eval"))
    assert sft[0] >= 95.0 and dpo[0] >= sft[0] - 2, (sft, dpo)
    assert dpo[1] >= max(sft[1], 95.0) and dpo_reward_accuracy(tmp_path / "dpo") >= 0.9, (sft, dpo)
