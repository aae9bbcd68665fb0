"""Fixtures of the offline infrastructure checks: checkov in its own virtual environment (it pins boto3
and would fight s3fs in the project's), run once per directory per test session even under xdist, and
small loaders for the YAML under argocd/ and the HCL under terraform/."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
ARGOCD = ROOT / "argocd"
IMAGES = ROOT / "images"

CHECKOV_VERSION = "3.3.30"
# Scanned directory -> the checkov framework that must find resources there.
CHECKOV_DIRS = {"terraform": "terraform", "argocd": "kubernetes", "images": "dockerfile"}
IN_CI = os.environ.get("CI", "").lower() == "true"


def cache_dir() -> Path:
    path = Path(os.environ.get("FMOPS_CACHE", Path.home() / ".cache" / "fmops"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(message: str) -> None:
    """A missing tool fails the test under CI (CI=true) and skips it elsewhere, saying which."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: required)")
    pytest.skip(f"{message} (skipped outside CI; set CI=true to make this a failure)")


def _marker() -> str:
    """What the venv was built from: a restored cache built on another interpreter is rebuilt."""
    return f"checkov=={CHECKOV_VERSION} python={sys.version.split()[0]} base={sys.base_prefix}"


def _checkov_ready(venv: Path) -> bool:
    """Installed completely by an earlier session (the marker is written last; `checkov --version`
    alone takes seconds to import)."""
    marker = venv / "fmops-installed"
    return (venv / "bin" / "checkov").exists() and marker.exists() and marker.read_text() == _marker()


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov==CHECKOV_VERSION in its own venv under the cache dir, created once (file lock for xdist)."""
    venv = cache_dir() / f"checkov-{CHECKOV_VERSION}"
    binary = venv / "bin" / "checkov"
    with FileLock(str(venv) + ".lock"):
        if not _checkov_ready(venv):
            start = time.monotonic()
            steps = [
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [
                    str(venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    f"checkov=={CHECKOV_VERSION}",
                ],
            ]
            for step in steps:
                result = subprocess.run(step, capture_output=True, text=True)
                if result.returncode != 0:
                    unavailable(f"cannot install checkov=={CHECKOV_VERSION}: {result.stderr.strip()[-500:]}")
            (venv / "fmops-installed").write_text(_marker())
            print(f"checkov venv created in {time.monotonic() - start:.1f} s: {venv}", file=sys.stderr)
    return binary


def _tree_stamp(directory: Path) -> str:
    """Changes whenever a file under `directory` changes, so cached checkov results stay truthful."""
    digest = hashlib.sha256(CHECKOV_VERSION.encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and ".terraform" not in p.parts):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def checkov_reports(checkov: Path) -> dict[str, list[dict]]:
    """checkov's JSON report per directory. The three scans run in parallel, at most once per content:
    reports are stored under the cache dir by a hash of checkov's version and every scanned file, so
    xdist workers and later sessions reuse them, and any edit makes a fresh scan."""
    shared = cache_dir() / "checkov-reports"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / "run.lock")):
        outputs = {name: shared / f"{name}-{_tree_stamp(ROOT / name)}.json" for name in CHECKOV_DIRS}
        for stale in {p for name in CHECKOV_DIRS for p in shared.glob(f"{name}-*")} - set(outputs.values()):
            stale.unlink()  # reports of earlier contents
        running = {
            name: subprocess.Popen(
                [str(checkov), "--directory", str(ROOT / name), "--output", "json", "--compact", "--skip-download"],
                stdout=out.with_suffix(".partial").open("w"),
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for name, out in outputs.items()
            if not out.exists()
        }
        for name, process in running.items():
            _, stderr = process.communicate(timeout=600)
            if process.returncode not in (0, 1):  # 1 means "failed checks", reported by the tests
                pytest.fail(f"checkov on {name}/ exited {process.returncode}: {stderr[-2000:]}")
            # Published only when complete, so an interrupted scan is never read as a report.
            outputs[name].with_suffix(".partial").rename(outputs[name])
        return {name: _as_list(json.loads(out.read_text())) for name, out in outputs.items()}


def _as_list(report: Any) -> list[dict]:
    """checkov prints one object for one framework, a list for several."""
    return report if isinstance(report, list) else [report]


def yaml_documents(path: Path) -> list[dict]:
    """The non-empty documents of a YAML file, parsed by libyaml (collection parses every file under argocd/
    several times: the pure-Python parser cost seconds of the fast tier)."""
    return [doc for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if doc]


def argocd_documents() -> list[tuple[Path, dict]]:
    """Every Kubernetes object under argocd/ (Helm values files are not objects and are left out)."""
    found = []
    for path in sorted(ARGOCD.rglob("*.yaml")):
        for doc in yaml_documents(path):
            if "apiVersion" in doc and "kind" in doc:
                found.append((path, doc))
    return found


def applications() -> list[tuple[Path, dict]]:
    return [(path, doc) for path, doc in argocd_documents() if doc["kind"] == "Application"]


def unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def hcl_files() -> dict[Path, dict]:
    parsed = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        with path.open() as handle:
            parsed[path] = hcl2.load(handle)
    return parsed


def hcl_blocks(kind: str) -> list[tuple[Path, str, dict]]:
    """(file, label, body) for every block of `kind` (module, variable, output, data, resource)."""
    found = []
    for path, parsed in hcl_files().items():
        for block in parsed.get(kind, []):
            for label, body in block.items():
                if isinstance(body, dict):
                    found.append((path, unquote(label), body))
    return found
