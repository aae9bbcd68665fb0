"""`fmops tokenize`, `fmops pretrain`, `fmops sft` and `fmops dpo` as a user and Argo start them, in a new
process: bad input is exit 2 and one line on stderr, no traceback, and it is refused before torch,
transformers or TRL is imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import fmops

HEAVY = ("torch", "transformers", "trl", "datasets")
BAD = {
    "pretrain": '{"text": "12+34=46"}\n{"text": 3.5}\n',
    "tokenize": '{"text": "12+34=46"}\n{"txt": "1+1=2"}\n',
    "sft": json.dumps({"messages": []}) + "\n",
    "dpo": json.dumps({"prompt": "What is 1+2?", "chosen": "3", "rejected": "3"}) + "\n",
}
PROBLEM = {
    "pretrain": ":2: field 'text': expected str, got float",
    "tokenize": ":2: field 'text': missing",
    "sft": ":1: field 'messages': empty list of messages",
    "dpo": ":1: field 'rejected': identical to 'chosen'",
}


@pytest.mark.parametrize("command", sorted(BAD))
def test_bad_data_is_refused_before_heavy_imports(tmp_path, command):
    data = tmp_path / "data.jsonl"
    data.write_text(BAD[command])
    model = "tiny" if command in ("pretrain", "tokenize") else str(tmp_path)
    code = (
        "import sys\nfrom fmops.cli import main\n"
        f"status = main([{command!r}, '--model', {model!r}, '--data', sys.argv[1], '--output', sys.argv[2]])\n"
        f"print(status, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(data), str(tmp_path / "out")], capture_output=True, text=True
    )
    assert result.stdout.strip() == "2 []", result.stderr
    assert result.stderr == f"fmops {command}: error: {data}{PROBLEM[command]}\n"
    assert not (tmp_path / "out").exists()


def test_renamed_key_is_one_line_exit_2(demo_dir, tmp_path):
    result = fmops(
        "pretrain",
        "--model",
        "tiny",
        "--data",
        str(demo_dir / "pretrain.jsonl"),
        "--output",
        str(tmp_path / "out"),
        "--set",
        "steps=3",
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "fmops pretrain: error: --set steps=3: field 'steps': renamed to 'max_steps'\n"
