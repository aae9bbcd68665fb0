"""The forks' CI (.github/workflows/ci.yml): every check that keeps the repository releasable (tests,
generated templates current and valid, Terraform formatted and valid, checkov), actions pinned to exact
versions, images pushed only from main through OIDC (no static AWS keys); and .ci/run, the local CI entry,
runs exactly the test command the README gives."""

from __future__ import annotations

import re

from tests.infra.ci_files import CI, CI_RUN, commands, readme_test_command, steps, workflow


def test_every_check_runs():
    text = commands()
    for command in (
        "pytest -n 2",
        "fmops render --check",
        "fmops validate",
        "argo lint --offline $(grep -l",
        "terraform fmt -check -recursive",
        "terraform -chdir=terraform validate",
        "checkov ",
    ):
        assert command in text, command


def test_actions_are_pinned_to_exact_versions():
    """An exact release tag, or the commit SHA .ci/pin.py writes (which CI's pins job then requires)."""
    uses = [step["uses"] for job in workflow()["jobs"] for step in steps(job) if "uses" in step]
    assert uses
    loose = [use for use in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", use)]
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


def test_ci_run_runs_the_readme_test_command():
    command = readme_test_command()
    assert command.endswith("pytest -n 2") and "pip install" in command
    lines = [line for line in CI_RUN.read_text().splitlines() if line and not line.startswith("#")]
    assert command in lines, f".ci/run does not run the README's test command: {command}"
    assert lines.index(command) == len(lines) - 1, "the test command must be the last thing .ci/run does"
