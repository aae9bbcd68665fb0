"""`fmops serve` refuses bad input (exit 2, one line) before it imports transformers (in-process)."""

from __future__ import annotations

import pytest

from tests.helpers import cli


def test_serve_refuses_an_incomplete_fmops_output(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    result = cli("serve", "--model", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"fmops serve: error: {tmp_path}: incomplete fmops output (no manifest.json); "
        "the stage that writes it did not finish"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "--port 70000: must be between 1 and 65535"),
        (["--threads", "-1"], "--threads -1: must not be negative"),
        (["--model", ""], "--model: must not be empty"),
        (
            ["--model", "someone/model"],
            "someone/model: --model must be a model directory or URI (nothing is downloaded)",
        ),
    ],
)
def test_serve_refuses_bad_flags(tmp_path, flags, message):
    result = cli("serve", "--model", str(tmp_path), *flags)
    assert (result.returncode, result.stderr) == (2, f"fmops serve: error: {message}\n")
