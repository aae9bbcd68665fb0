"""`fmops dpo` refuses bad preference data and bad flags with one line and exit status 2, marking nothing."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli

GOOD = {"prompt": "What is 1+2?", "chosen": "3", "rejected": "4"}
GOOD_CHAT = {
    "prompt": [{"role": "user", "content": "What is 1+2?"}],
    "chosen": [{"role": "assistant", "content": "3"}],
    "rejected": [{"role": "assistant", "content": "4"}],
}


def dpo_error(tmp_path, lines: list[str], *flags: str) -> tuple[str, str]:
    data = tmp_path / "dpo.jsonl"
    data.write_text("".join(line + "\n" for line in lines))
    return refused(tmp_path, data, *flags), str(data)


def refused(tmp_path, data, *flags: str) -> str:
    """The one line `fmops dpo` exits 2 with on `data`, having written nothing."""
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    result = cli("dpo", "--model", str(model), "--data", str(data), "--output", str(tmp_path / "out"), *flags)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "out").exists()
    lines_out = result.stderr.strip().splitlines()
    assert len(lines_out) == 1, result.stderr
    return lines_out[0]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({**GOOD, "chosen": ""}, "field 'chosen': empty"),
        ({**GOOD_CHAT, "chosen": []}, "field 'chosen': empty"),
        ({**GOOD, "rejected": "3"}, "field 'rejected': identical to 'chosen'"),
        ({**GOOD_CHAT, "rejected": GOOD_CHAT["chosen"]}, "field 'rejected': identical to 'chosen'"),
        ({"prompt": "x", "chosen": "3"}, "field 'rejected': missing"),
        ({**GOOD, "chosen": 3}, "field 'chosen': expected str or list of messages, got int"),
        (
            {**GOOD_CHAT, "prompt": "What is 1+2?"},
            "prompt, chosen, rejected must all be strings or all messages "
            "(prompt=str, chosen=messages, rejected=messages)",
        ),
        (
            {**GOOD_CHAT, "chosen": [{"role": "bot", "content": "3"}]},
            "field 'chosen[0].role': 'bot' is not one of system, user, assistant",
        ),
        (
            {**GOOD_CHAT, "rejected": [{"role": "assistant", "content": None}]},
            "field 'rejected[0].content': expected str, got NoneType",
        ),
    ],
)
def test_bad_pair_is_refused(tmp_path, record, problem):
    good = json.dumps(GOOD_CHAT if isinstance(record["prompt"], list) else GOOD)
    message, data = dpo_error(tmp_path, [good, good, json.dumps(record)])
    assert message == f"fmops dpo: error: {data}:3: {problem}"


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({**GOOD_CHAT, "rejected": GOOD_CHAT["chosen"]}, "field 'rejected': identical to 'chosen'"),
        ({**GOOD_CHAT, "chosen": []}, "field 'chosen': empty"),
        ({"prompt": GOOD_CHAT["prompt"], "chosen": GOOD_CHAT["chosen"]}, "field 'rejected': missing"),
    ],
)
def test_bad_parquet_pair_names_file_and_row(tmp_path, record, problem):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "dpo.parquet"
    pq.write_table(pa.Table.from_pylist([GOOD_CHAT, record]), data)
    assert refused(tmp_path, data) == f"fmops dpo: error: {data}:row 2: {problem}"


def test_malformed_line_between_good_ones(tmp_path):
    message, data = dpo_error(tmp_path, [json.dumps(GOOD), "not json", json.dumps(GOOD)])
    assert message == f"fmops dpo: error: {data}:2: malformed JSON (Expecting value at column 1)"


def test_empty_file(tmp_path):
    message, data = dpo_error(tmp_path, [])
    assert message == f"fmops dpo: error: {data}: file is empty"


def test_bad_beta(tmp_path):
    message, _ = dpo_error(tmp_path, [json.dumps(GOOD)], "--beta", "strong")
    assert message == "fmops dpo: error: --beta strong: expected a number"


def test_unknown_loss(tmp_path):
    message, _ = dpo_error(tmp_path, [json.dumps(GOOD)], "--loss", "hinged")
    assert message.startswith(
        "fmops dpo: error: command line: field 'loss_type': Value error, unknown loss ['hinged']; "
    )


def test_non_positive_beta(tmp_path):
    message, _ = dpo_error(tmp_path, [json.dumps(GOOD)], "--beta", "0")
    assert message == "fmops dpo: error: command line: field 'beta': Input should be greater than 0"
