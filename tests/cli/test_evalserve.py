"""The evaluation and serving commands as a user and Argo run them (a new process each): bad input is one
line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import pytest

from tests.helpers import fmops

CASES = {
    "evaluate": (
        ["--model", "/nonexistent/model", "--output", "/tmp/unused"],
        "/nonexistent/model: model path does not exist",
    ),
    "gate": (
        ["--candidate", "/nonexistent/eval", "--rules", "demo"],
        "/nonexistent/eval: evaluation output does not exist",
    ),
    "deploy": (
        ["--model", "m", "--name", "Bad_Name", "--registry", "r"],
        "--name Bad_Name: must be a DNS label "
        "(lowercase letters, digits, '-'; at most 42 characters, starting with a letter)",
    ),
    "serve": (["--model", "m", "--port", "0"], "--port 0: must be between 1 and 65535"),
    "monitor": (
        ["--endpoint", "localhost", "--history", "h.jsonl"],
        "--endpoint localhost: expected an http:// or https:// URL",
    ),
    "bench": (
        ["serve", "--url", "localhost:8000"],
        "--url localhost:8000: expected an http(s):// base URL ending in /v1",
    ),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(command):
    args, message = CASES[command]
    result = fmops(command, *args, check=False, timeout=60)
    assert (result.returncode, result.stderr, result.stdout) == (2, f"fmops {command}: error: {message}\n", "")
