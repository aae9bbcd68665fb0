"""`terraform fmt -check -recursive terraform/`. Terraform 1.11 is installed on the fmops build machines
and in CI; without it this test fails under CI=true and skips elsewhere, saying so. `terraform validate`
needs providers from registry.terraform.io, which the offline test machines cannot reach: it runs in
GitHub CI (.github/workflows/ci.yml, job terraform) instead."""

from __future__ import annotations

import shutil
import subprocess

from tests.infra.conftest import TERRAFORM, unavailable


def test_terraform_fmt_is_clean():
    assert sorted(TERRAFORM.glob("*.tf")), "terraform/ holds no .tf files"
    binary = shutil.which("terraform")
    if binary is None:
        unavailable("terraform is not on PATH, so `terraform fmt -check` cannot run")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"
