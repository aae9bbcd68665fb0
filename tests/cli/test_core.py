"""The `fmops` command as a user and Argo start it, in a new process: the command list, --version, usage
errors, and for each step command one bad input: exit 2, one line on stderr, no traceback."""

import pytest
from fmops import __version__
from fmops.cli import COMMANDS

from tests.helpers import fmops


def test_help_lists_every_command():
    listed = " ".join(fmops("--help").stdout.split())  # argparse wraps long help lines
    for name, (_, help_text) in COMMANDS.items():
        assert f" {name} {help_text}" in listed, name


def test_version():
    assert fmops("--version").stdout.strip() == f"fmops {__version__}"


def test_unknown_command_is_a_usage_error():
    result = fmops("frobnicate", check=False)
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["plan", "--run-root", "/r", "--run-sft", "yes", "--results-dir", "/tmp/x"],
            "fmops plan: error: --run-sft 'yes': expected true or false",
        ),
        (
            ["collect", "--output", "/nonexistent/out", "--results-dir", "/tmp/x"],
            "fmops collect: error: /nonexistent/out: incomplete fmops output (no manifest.json)",
        ),
        (
            ["shards", "list", "--incoming", "/nonexistent/in", "--watermark", "/nonexistent/wm", "--cycle", "c1"],
            "fmops shards: error: /nonexistent/in: incoming data prefix does not exist",
        ),
        (
            ["registry", "resolve", "--root", "/nonexistent/r", "--name", "demo"],
            "fmops registry: error: /nonexistent/r/models/demo: no 'latest' pointer and no --fallback",
        ),
        (
            ["launch", "--nodes", "0", "--", "plan"],
            "fmops launch: error: launch: --nodes and --gpus-per-node must be at least 1",
        ),
        (["allreduce", "--size-mb", "0"], "fmops allreduce: error: allreduce: --size-mb 0: expected a size above 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = fmops(*args, check=False)
    assert (result.returncode, result.stderr) == (2, message + "\n")
    assert "Traceback" not in result.stdout


def test_notify_without_a_webhook_succeeds_in_a_new_process(tmp_path):
    result = fmops(
        "notify",
        "--workflow",
        "wf",
        "--status",
        "Succeeded",
        "--record",
        str(tmp_path / "s.json"),
        env={"FMOPS_WEBHOOK_URL": ""},
    )
    assert result.stderr == "" and (tmp_path / "s.json").is_file()
