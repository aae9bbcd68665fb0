"""`fmops deploy --target local`: publish, start `fmops serve`, smoke-test, promote, stop."""

from __future__ import annotations

import json
import shutil

import pytest
from fmops.core import registry

from tests.helpers import fmops

pytestmark = pytest.mark.slow  # starts `fmops serve`


def test_local_deploy_publishes_smoke_tests_promotes_and_stops_the_server(tiny_model, tmp_path):
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "metrics.json").write_text('{"demo_addition": {"exact_match": {"value": 0.25}}}')
    root, results = tmp_path / "registry", tmp_path / "results"
    result = fmops(
        "deploy",
        "--model",
        str(tiny_model),
        "--name",
        "demo",
        "--target",
        "local",
        "--registry",
        str(root),
        "--evaluation",
        str(evaluation),
        "--results-dir",
        str(results),
        "--timeout",
        "",
        "--namespace",
        "",
    )  # '' = not given, as templates pass it
    report = json.loads((results / "deploy.json").read_text())
    version = report["version"]
    assert report["status"] == "promoted" and report["server_exit_code"] == 0
    assert registry.read_pointer(str(root), "demo", "production") == {"version": version, "previous": None}
    assert registry.read_pointer(str(root), "demo", "latest") is None  # deploy moves production only
    version_dir = root / "models" / "demo" / version
    assert (version_dir / "manifest.json").exists() and (version_dir / "model.safetensors").exists()
    assert json.loads((version_dir / "evaluation" / "metrics.json").read_text())["demo_addition"]
    assert set(report["smoke"]["checks"]) == {"chat", "completion", "chat_stream", "completion_stream"}
    assert report["smoke"]["model"] == str(version_dir)
    assert report["smoke"]["load"]["errors"] == 0
    metrics = json.loads((results / "metrics.json").read_text())
    assert (metrics["promoted"], metrics["smoke_passed"]) == (1, 1)
    assert metrics["rollout_s"] > 0
    # the server stopped with the step: no endpoint is left to list, only where the smoke test reached it
    assert (results / "endpoint").read_text() == "" and report["smoke_endpoint"].startswith("http://127.0.0.1:")
    assert result.stdout.strip() == (
        f"fmops deploy: serve the production model with: fmops serve --model {root}/models/demo/production"
    )


def test_a_model_the_server_cannot_load_is_not_promoted(tiny_model, tmp_path):
    root = tmp_path / "registry"
    registry.publish(str(root), "demo", str(tiny_model), version="v-old", pointer="production")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    result = fmops(
        "deploy",
        "--model",
        str(broken),
        "--name",
        "demo",
        "--target",
        "local",
        "--registry",
        str(root),
        "--results-dir",
        str(tmp_path / "results"),
        check=False,
    )
    assert result.returncode == 1
    assert "fmops serve exited with status" in result.stderr
    assert "NOT promoted; production stays at v-old" in result.stderr
    assert registry.read_pointer(str(root), "demo", "production")["version"] == "v-old"
    assert json.loads((tmp_path / "results" / "deploy.json").read_text())["status"] == "failed"
