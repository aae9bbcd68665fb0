"""`fmops evaluate` refuses bad input with one line and exit status 2, before loading any model (in-process)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from fmops.serving.process import free_port

from tests.helpers import cli

PREFIX = "fmops evaluate: error: "


def refused(*args: str) -> str:
    result = cli("evaluate", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), result.stderr
    return lines[0].removeprefix(PREFIX)


@pytest.fixture
def task_data(tmp_path, demo_dir) -> Path:
    data = tmp_path / "data"
    shutil.copytree(demo_dir / "eval", data)
    return data


UNKNOWN = (
    "--tasks: unknown task 'no_such_task' (project tasks: demo_addition, demo_choice, demo_preference, "
    "safety_overrefusal, safety_refusal; or an lm-eval task name)"
)


@pytest.mark.slow  # a name that is no project task is looked up in lm-eval's whole index: ~15 s on two cores
def test_unknown_task(model_dir, tmp_path):
    tasks = "demo_addition,no_such_task"
    assert refused("--model", str(model_dir), "--tasks", tasks, "--output", str(tmp_path / "o")) == UNKNOWN


def test_unknown_task_against_an_index():
    from fmops.core.errors import InputError
    from fmops.evaluation import catalog, harness

    index = SimpleNamespace(all_tasks=["hellaswag", "arc_easy"])
    harness.check_standard(index, ["hellaswag"], catalog.project_tasks())
    with pytest.raises(InputError) as raised:
        harness.check_standard(index, ["hellaswag", "no_such_task"], catalog.project_tasks())
    assert str(raised.value) == UNKNOWN


def test_missing_task_data(model_dir, task_data, tmp_path):
    (task_data / "choice.jsonl").unlink()
    message = refused("--model", str(model_dir), "--task-data", str(task_data), "--output", str(tmp_path / "o"))
    assert message == f"{task_data}/choice.jsonl: task data for demo_choice does not exist"


def test_malformed_task_data(model_dir, task_data, tmp_path):
    path = task_data / "addition.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"question": "What is 1+2?", "answer": 3}', *lines[2:]]) + "\n")
    message = refused("--model", str(model_dir), "--task-data", str(task_data), "--output", str(tmp_path / "o"))
    assert message == f"{path.resolve()}:2: field 'answer': expected str, got int"
    path.write_text(lines[0] + "\n{not json\n")
    message = refused("--model", str(model_dir), "--task-data", str(task_data), "--output", str(tmp_path / "o"))
    problem = "Expecting property name enclosed in double quotes at column 2"
    assert message == f"{path.resolve()}:2: malformed JSON ({problem})"


def test_label_out_of_range(model_dir, task_data, tmp_path):
    path = task_data / "choice.jsonl"
    path.write_text('{"question": "What is 1+2?", "choices": ["3", "4"], "label": 2}\n')
    message = refused("--model", str(model_dir), "--task-data", str(task_data), "--output", str(tmp_path / "o"))
    assert message == f"{path.resolve()}:1: field 'label': 2 is not an index into 'choices'"


def test_incomplete_fmops_output(tmp_path):
    model = tmp_path / "sft"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "metrics.json").write_text("{}")
    message = refused("--model", str(model), "--output", str(tmp_path / "o"))
    assert message == f"{model}: incomplete fmops output (no manifest.json); the stage that writes it did not finish"


def test_model_or_endpoint(model_dir, tmp_path):
    expected = "give exactly one of --model and --endpoint"
    assert refused("--output", str(tmp_path / "o")) == expected
    assert refused("--model", str(model_dir), "--endpoint", "http://x", "--output", str(tmp_path / "o")) == expected


def test_unreachable_endpoint(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    message = refused("--endpoint", url, "--set", "max_retries=1", "--output", str(tmp_path / "o"))
    assert re.fullmatch(rf"{re.escape(url)}/v1: endpoint unreachable after 2 tries \(.+\)", message), message


def test_model_without_chat_template(model_dir, tmp_path):
    (model_dir / "chat_template.jinja").unlink()
    message = refused("--model", str(model_dir), "--output", str(tmp_path / "o"))
    assert message == f"{model_dir}: the tokenizer has no chat template; add one, or --set apply_chat_template=false"


def test_the_stage_function_refuses_the_same_way(model_dir, tmp_path):
    from fmops.core.errors import InputError
    from fmops.evaluation.config import EvaluateConfig
    from fmops.evaluation.evaluate import Inputs, evaluate

    with pytest.raises(InputError, match="^give exactly one of --model and --endpoint$"):
        evaluate(EvaluateConfig(), Inputs(output=str(tmp_path / "o")))
    with pytest.raises(InputError, match="^--tasks: no task named$"):
        evaluate(EvaluateConfig(tasks=" , "), Inputs(model=str(model_dir), output=str(tmp_path / "o")))


def test_bad_integer_flag():
    assert refused("--model", "m", "--limit", "ten", "--output", "o") == "--limit ten: expected an integer"
