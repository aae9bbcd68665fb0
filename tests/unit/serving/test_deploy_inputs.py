"""`fmops deploy` refuses bad input (exit 2, one line) before it publishes or applies anything (in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fmops.core import manifest

from tests.helpers import cli


@pytest.fixture
def model(tmp_path) -> Path:
    """A complete fmops stage output as far as the checks look (config.json, manifest.json)."""
    folder = tmp_path / "dpo"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    manifest.write(str(folder), stage="dpo", inputs={}, config={}, metrics={}, started_at=manifest.now())
    return folder


def refused(*args: str) -> str:
    result = cli("deploy", *args)
    assert result.returncode == 2, result
    (line,) = result.stderr.splitlines()
    return line


def test_bad_name_and_missing_evaluation_are_refused_first(model, tmp_path):
    common = ["--model", str(model), "--target", "local", "--registry", str(tmp_path / "reg")]
    assert refused("--name", "Demo_Model", *common) == (
        "fmops deploy: error: --name Demo_Model: must be a DNS label "
        "(lowercase letters, digits, '-'; at most 42 characters, "
        "starting with a letter)"
    )
    assert refused("--name", "demo", "--evaluation", str(tmp_path / "nope"), *common) == (
        f"fmops deploy: error: {tmp_path / 'nope'}: not an evaluation output (no metrics.json)"
    )
    negative = "fmops deploy: error: --timeout -1.0: must not be negative"
    assert refused("--name", "demo", "--timeout", "-1", *common) == negative
    usage = cli("deploy", "--name", "demo", "--timeout", "soon", *common)
    assert usage.returncode == 2 and "--timeout: expected seconds, got 'soon'" in usage.stderr
    assert not (tmp_path / "reg").exists()


def test_the_cluster_target_needs_an_s3_registry(model, tmp_path):
    assert refused("--model", str(model), "--name", "demo", "--registry", str(tmp_path / "reg")) == (
        f"fmops deploy: error: --registry {tmp_path / 'reg'}: the cluster target needs an s3:// registry "
        "(the serving pods read the model from S3)"
    )


def test_an_incomplete_output_is_refused_before_anything_is_applied(s3_server, fake, tmp_path):
    from fmops.core import storage

    from tests.helpers import create_bucket

    create_bucket("fmops-test")
    incomplete = tmp_path / "dpo"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    (incomplete / "metrics.json").write_text("{}")
    kube = fake()
    registry_root = "s3://fmops-test/registry"
    line = refused("--model", str(incomplete), "--name", "demo", "--target", "cluster", "--registry", registry_root)
    assert line == (
        f"fmops deploy: error: {incomplete}: incomplete fmops output (no manifest.json); "
        "the stage that writes it did not finish"
    )
    assert kube.requests == []
    assert not storage.exists(f"{registry_root}/models/demo")


def test_the_stage_function_checks_before_it_publishes(model, tmp_path):
    from fmops.core.errors import InputError
    from fmops.serving.config import DeployConfig
    from fmops.serving.deploy import Inputs, deploy

    inputs = Inputs(
        model=str(model), name="demo", registry=str(tmp_path / "reg"), target="local", evaluation=str(tmp_path / "nope")
    )
    with pytest.raises(InputError, match="not an evaluation output"):
        deploy(DeployConfig(), inputs)
    assert not (tmp_path / "reg").exists()


def test_the_local_engine_is_checked_before_publishing(model, tmp_path, monkeypatch):
    common = ["--model", str(model), "--name", "demo", "--target", "local", "--registry", str(tmp_path / "reg")]
    assert refused(*common, "--engine", "tgi") == (
        "fmops deploy: error: --engine tgi: must be one of transformers, vllm, auto"
    )
    (model / "config.json").write_text('{"hidden_size": 64, "num_attention_heads": 4}')
    monkeypatch.delenv("FMOPS_VLLM_PYTHON", raising=False)
    assert refused(*common, "--engine", "vllm").startswith(
        f"fmops deploy: error: {model}: vLLM's CPU attention does not support head_dim 16"
    )
    assert not (tmp_path / "reg").exists()
