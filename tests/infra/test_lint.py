"""ruff, at the version the dev extra pins, over the package and the tests: lint rules and formatting, so the
README's test command is also the style check."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["python", "tests", "benchmarks"]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if executable is None:
        pytest.fail("ruff is not installed: pip install -e '.[dev]' installs it")
    return subprocess.run([executable, *args, *TARGETS], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_is_clean():
    result = ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    result = ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def python_files() -> list[Path]:
    return sorted(path for target in TARGETS for path in (ROOT / target).rglob("*.py"))


def test_every_python_file_reads_in_one_sitting():
    long_files = {
        str(path.relative_to(ROOT)): n for path in python_files() if (n := len(path.read_text().splitlines())) > 450
    }
    assert long_files == {}, "over 450 lines: split by idea"


SKIP_MARKER = "# fmt" + ": skip"  # spelt in two parts so this file does not count itself


def test_formatter_exemptions_stay_rare():
    marked = sum(path.read_text().count(SKIP_MARKER) for path in python_files())
    assert marked <= 20, f"{marked} formatter exemptions: let ruff format lay code out; big tables go to data files"


def test_readme_stays_an_overview():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= 250, f"README.md has {lines} lines: manuals live beside what they describe"
