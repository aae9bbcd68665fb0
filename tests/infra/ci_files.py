"""The CI definitions as data for the infra tests: the GitHub workflow, its steps and commands, and the
README's test command that .ci/run must run."""

from __future__ import annotations

import yaml

from tests.infra.conftest import ROOT

CI = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"


def workflow() -> dict:
    return yaml.safe_load(CI.read_text())


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def commands() -> str:
    return "\n".join(step.get("run", "") for job in workflow()["jobs"] for step in steps(job))


def readme_test_command() -> str:
    """The one command in the README's fenced block after "Run the tests"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Run the tests") :]
    block = section[section.index("```bash\n") + len("```bash\n") : section.index("\n```", section.index("```bash"))]
    (command,) = [line for line in block.splitlines() if line.strip()]
    return command
