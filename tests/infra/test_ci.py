"""The forks' CI (.github/workflows/ci.yml): every check the issue lists, actions pinned to exact
versions, images pushed only from main through OIDC (no static AWS keys)."""

from __future__ import annotations

import re

import yaml

from tests.infra.conftest import ROOT

CI = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict:
    return yaml.safe_load(CI.read_text())


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def commands() -> str:
    return "\n".join(step.get("run", "") for job in workflow()["jobs"] for step in steps(job))


def test_every_check_runs():
    text = commands()
    for command in ("pytest -n 2", "fmops render --check", "fmops validate", "argo lint --offline $(grep -l",
                    "terraform fmt -check -recursive", "terraform -chdir=terraform validate", "checkov "):
        assert command in text, command


def test_actions_are_pinned_to_exact_versions():
    uses = [step["uses"] for job in workflow()["jobs"] for step in steps(job) if "uses" in step]
    assert uses
    loose = [use for use in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", use)]
    assert loose == []


def test_images_push_from_main_with_oidc_only():
    job = workflow()["jobs"]["images"]
    assert "refs/heads/main" in job["if"] and "push" in job["if"]
    assert job["permissions"]["id-token"] == "write"
    assert workflow()["permissions"] == {"contents": "read"}
    assert not re.search(r"aws-access-key-id|aws-secret-access-key|AWS_SECRET", CI.read_text())
    assert {step.get("with", {}).get("file") for step in job["steps"]} >= {"images/${{ matrix.image }}/Dockerfile"}
    assert set(job["strategy"]["matrix"]["image"]) == {"train", "eval"}


def test_tests_run_with_ci_true():
    (step,) = [step for step in steps("tests") if step.get("run") == "pytest -n 2"]
    assert step["env"]["CI"] == "true"
