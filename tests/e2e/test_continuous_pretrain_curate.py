"""Continuous pretraining with `-p curate=true`: a cycle whose new shard repeats documents an earlier, promoted
cycle trained on has them removed before training (the curate history), and the run says what was removed."""

import json
from pathlib import Path

import pytest

from tests.e2e.test_continuous_pretrain import NODE, Cycles, write_lines

# few steps: what is under test is which documents reach training, not what the model learns
SHORT = "max_steps: 20\nmax_length: 64\nper_device_train_batch_size: 4\nlearning_rate: 3.0e-3\nsave_steps: 0\n"


def texts(folder: Path) -> list[str]:
    return [
        json.loads(line)["text"] for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()
    ]


@pytest.mark.slow
def test_a_new_shard_repeating_a_promoted_cycle_has_those_documents_removed_before_training(tmp_path, demo_dir):
    cycles = Cycles(tmp_path, demo_dir)
    (tmp_path / "recipe.yaml").write_text(SHORT)
    demo = (demo_dir / "pretrain.jsonl").read_text().splitlines()
    incoming = cycles.data / "incoming"
    write_lines(incoming / "a.jsonl", demo[:60])

    # cycle 1: curated (nothing to remove yet), trained, promoted; its signatures join the history
    nodes = cycles.run("cycle-1", "-p", "curate=true", "-p", "eval-limit=20")["nodes"]
    assert nodes[NODE % "curate"]["phase"] == "Succeeded"
    assert nodes[NODE % "gate"]["outputs"]["promote"] == "true"
    assert nodes[NODE % "record-history"]["phase"] == "Succeeded"
    history = cycles.storage / "curate-history" / "demo"
    assert len(list((history / "cycles").glob("*.json"))) == 1

    # cycle 2: 30 documents cycle 1 trained on, and 80 new ones
    repeated, new = demo[:30], demo[100:180]
    write_lines(incoming / "c.jsonl", repeated + new)
    run = cycles.run("cycle-2", "-p", "curate=true", "-p", "eval-limit=20")
    curated = cycles.storage / "runs" / "cycle-2" / "curated"
    metrics = json.loads((curated / "metrics.json").read_text())
    assert metrics["documents_read"] == 110 and metrics["documents_kept"] == 80
    assert metrics["removed"]["history_duplicate"] == 30 and metrics["history_cycles"] == 1
    assert texts(curated / "documents") == [json.loads(line)["text"] for line in new]

    # training read the curated documents, not the raw shard
    data = cycles.manifest("cycle-2", "pretrain")["inputs"]["data"]
    assert [Path(entry["uri"]).parent for entry in data] == [curated / "documents"]
    assert cycles.trained_on("cycle-2")[1] == ["00000.jsonl"]

    # the run says what was removed and why
    summary = run["workflow"]["workflow.outputs.parameters.curate-summary"]
    assert summary.startswith("kept 80 of 110 documents") and "30 history_duplicate" in summary
