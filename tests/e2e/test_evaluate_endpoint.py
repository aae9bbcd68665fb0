"""`fmops evaluate --endpoint`: the same numbers as in-process, and log-likelihood refused without vLLM.

The endpoint is `fmops serve` (transformers serve pinned to the model) on a free loopback port: it applies
the model's own chat template, and temperature 0 makes it decode greedily, as the in-process `hf` run does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fmops.serving.process import LocalServer

from tests.helpers import fmops

LIMIT = "60"  # documents: enough to compare answers one by one, small enough for a CPU server

pytestmark = pytest.mark.slow  # trains the pretrained model, serves it, evaluates it twice


@pytest.fixture(scope="module")
def server(pretrained_model) -> Iterator[LocalServer]:
    """`fmops serve` on the pretrained model, one torch thread (two test workers share two cores)."""
    with LocalServer(model=str(pretrained_model), threads=1) as server:
        yield server


def evaluate(output: Path, *target: str) -> tuple[dict, list[dict]]:
    fmops("evaluate", *target, "--tasks", "demo_addition", "--limit", LIMIT, "--output", str(output))
    samples = [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]
    return json.loads((output / "metrics.json").read_text()), samples


def test_parity_in_process_and_endpoint(tmp_path, pretrained_model, server):
    local, local_samples = evaluate(tmp_path / "local", "--model", str(pretrained_model))
    remote, remote_samples = evaluate(tmp_path / "remote", "--endpoint", server.base_url)
    assert remote["demo_addition"]["exact_match"] == local["demo_addition"]["exact_match"]
    assert local["demo_addition"]["exact_match"]["samples"] == int(LIMIT)
    # answer by answer, not only the mean (the server may keep the stop newline: whitespace is no answer)
    assert [s["response"].strip() for s in remote_samples] == [s["response"].strip() for s in local_samples]
    manifest = json.loads((tmp_path / "remote" / "manifest.json").read_text())
    assert manifest["inputs"]["endpoint"] == server.base_url


def test_loglikelihood_needs_vllm(tmp_path, server):
    result = fmops("evaluate", "--endpoint", server.base_url, "--tasks", "demo", "--output", str(tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fmops evaluate: error: {server.base_url}: task demo_choice needs prompt log-likelihoods (/v1/completions "
        "with echo and logprobs), which this endpoint does not return; serve the model with vLLM for log-likelihood "
        "tasks (the local `transformers serve` ignores logprobs/echo)"
    ]


def test_model_name_not_served(tmp_path, server, pretrained_model):
    args = [
        "--endpoint",
        server.base_url,
        "--model-name",
        "nope",
        "--tasks",
        "demo_addition",
        "--output",
        str(tmp_path),
    ]
    result = fmops("evaluate", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"fmops evaluate: error: {server.base_url}/models: model 'nope' is not served here (served: {pretrained_model})"
    ]
