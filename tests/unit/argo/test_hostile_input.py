"""`fmops run` on hostile Workflow files: each wrong structure, oversized expression, catastrophic regex, YAML
bomb and self-calling template ends as one error line (InputError, exit 2) or a node that fails with its
reason, within seconds, before any step's process starts."""

import time
from pathlib import Path

import pytest
from fmops.argo.local.expressions import condition, evaluate
from fmops.argo.local.limits import MAX_CALL_DEPTH
from fmops.argo.local.runner import RunOptions, run_workflow
from fmops.core.errors import InputError

from tests.helpers import cli

HEAD = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: hostile}\n"
STEP = "{name: s, template: t}"
T = "{name: t, container: {image: busybox, command: [sh, -c, 'exit 0']}}"
ENV_MAP = "{name: t, container: {image: b, env: {A: b}}}"
SEQUENCE = "{name: s, template: t, withSequence: {count: abc}}"


def workflow(tmp_path: Path, body: str) -> Path:
    file = tmp_path / "wf.yaml"
    file.write_text(HEAD + body)
    (tmp_path / "library").mkdir(exist_ok=True)
    return file


def refusal(tmp_path: Path, body: str) -> str:
    file = workflow(tmp_path, body)
    with pytest.raises(InputError) as error:
        run_workflow(RunOptions(template=str(file), workflows=tmp_path / "library", workdir=tmp_path / "run"))
    assert "\n" not in str(error.value)
    return str(error.value)


WRONG_STRUCTURE = {
    "spec: 5": "spec: expected a mapping",
    "spec: {entrypoint: m, templates: abc}": "spec.templates: expected a list",
    "spec: {entrypoint: m, arguments: {parameters: x}, templates: []}": "spec.arguments.parameters: expected a list",
    f"spec: {{entrypoint: m, templates: [{{name: m, steps: [[{STEP}]]}}, {ENV_MAP}]}}": (
        "spec.templates[1].container.env: expected a list"
    ),
    f"spec: {{entrypoint: m, templates: [{{name: m, steps: [[{SEQUENCE}]]}}, {T}]}}": (
        "withSequence.count: 'abc' is not a whole number"
    ),
    "spec: {entrypoint: t, templates: [{name: t, retryStrategy: {limit: abc}, container: {image: b}}]}": (
        "spec.templates[0].retryStrategy.limit: 'abc' is not a whole number"
    ),
    "spec: {entrypoint: m, templates: [{name: m, steps: abc}]}": "spec.templates[0].steps: expected a list",
    "spec: {entrypoint: m, templates: [{name: m, dag: {tasks: [{template: t}]}}]}": (
        "spec.templates[0].dag.tasks[0].name: missing"
    ),
    "spec: {entrypoint: m, templates: [{name: m, inputs: {parameters: [a]}}]}": (
        "spec.templates[0].inputs.parameters[0]: expected a mapping"
    ),
    "spec: {entrypoint: m, templates: [{name: m, steps: [[{name: s, template: t, withItems: abc}]]}]}": (
        "withItems: expected a list"
    ),
}


@pytest.mark.parametrize("body", list(WRONG_STRUCTURE))
def test_a_structurally_wrong_file_is_one_line_naming_the_field(tmp_path: Path, body: str):
    message = refusal(tmp_path, body + "\n")
    assert message.startswith(str(tmp_path / "wf.yaml") + ": ")
    assert WRONG_STRUCTURE[body] in message


def test_a_wrong_file_exits_2_with_one_line(tmp_path: Path):
    file = workflow(tmp_path, "spec: {entrypoint: m, templates: abc}\n")
    result = cli("run", str(file), "--workflows", str(tmp_path / "library"), "--workdir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr == f"fmops run: error: {file}: spec.templates: expected a list\n"


def test_a_deeply_nested_file_and_an_alias_bomb_are_refused_at_once(tmp_path: Path):
    started = time.monotonic()
    assert "nested deeper than 100" in refusal(tmp_path, "spec: " + "[" * 10_000 + "]" * 10_000 + "\n")
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 10)]
    assert "aliases expand it beyond" in refusal(tmp_path, "\n".join(lines) + "\nspec: {templates: [*x9]}\n")
    assert time.monotonic() - started < 5


def test_a_bad_file_in_the_workflows_directory_is_one_line(tmp_path: Path):
    library = tmp_path / "library"
    library.mkdir()
    (library / "bad.yaml").write_text("kind: WorkflowTemplate\nmetadata: {name: lib}\nspec: {templates: 5}\n")
    with pytest.raises(InputError, match=r"bad.yaml: spec.templates: expected a list"):
        run_workflow(RunOptions(template="lib", workflows=library, workdir=tmp_path / "run"))


HOSTILE_EXPRESSIONS = {
    "(" * 3000 + "1" + ")" * 3000: "nested deeper than 100",
    "+".join(["1"] * 3000): "nested deeper than 100",
    "1" * 5000: "does not fit in 64 bits",
    "9223372036854775808": "does not fit in 64 bits",
    "1..1e8": "a range of more than",
    "sprig.repeat(1e11, 'ab')": "more than 1000000 characters",
    "'a' matches '(a)\\\\1'": "regular expression",
    "'a' matches '('": "regular expression",
    "10 ** 10 ** 10": "cannot evaluate",
    "map(1..100000, {map(1..100000, {#})})": "more work than",
    "fromJson('" + "[" * 5000 + "')": "cannot evaluate",
    "9223372036854775807 + 1": "overflows 64 bits",
    "x" * 20_000: "longer than 10000 characters",
}


@pytest.mark.parametrize("text", list(HOSTILE_EXPRESSIONS), ids=range(len(HOSTILE_EXPRESSIONS)))
def test_a_hostile_expression_is_an_error_line_within_seconds(text: str):
    started = time.monotonic()
    with pytest.raises(InputError, match=HOSTILE_EXPRESSIONS[text]) as error:
        evaluate(text, {})
    assert len(str(error.value)) < 400
    assert time.monotonic() - started < 5  # a busy shared machine; each takes well under a second alone


def test_a_catastrophic_regex_matches_in_linear_time():
    started = time.monotonic()
    hostile = {"inputs.parameters.x": "a" * 50_000 + "!"}
    assert evaluate("inputs.parameters.x matches '^(a+)+$'", hostile) is False
    assert condition("'" + "a" * 30 + "' =~ '^(a+)+$'")
    assert time.monotonic() - started < 5  # a busy shared machine; each takes well under a second alone


def test_a_self_calling_template_fails_with_its_reason(tmp_path: Path):
    file = workflow(
        tmp_path, "spec: {entrypoint: again, templates: [{name: again, steps: [[{name: d, template: again}]]}]}\n"
    )
    started = time.monotonic()
    result = run_workflow(RunOptions(template=str(file), workflows=tmp_path / "library", workdir=tmp_path / "run"))
    assert result.phase == "Error" or result.phase == "Failed"
    deepest = [n for n in result.nodes if "nest deeper than" in n.message]
    assert len(deepest) == 1 and deepest[0].id.count("/") == MAX_CALL_DEPTH
    assert time.monotonic() - started < 10
