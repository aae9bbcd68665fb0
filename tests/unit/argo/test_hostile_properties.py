"""Properties of `fmops run` over generated input: an expression, or a Workflow whose fields are swapped for
hostile values, either works or ends as the project's input error (or the emulator's TemplateError, or a node
that fails with its reason), within its time bound, and writes nothing outside the run directory.
The fast tier runs a few hundred examples per property; the slow tier (`-m slow`) thousands."""

import copy
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from fmops.argo.local import pods
from fmops.argo.local.expressions import condition, depends, substitute
from fmops.argo.local.nodes import TemplateError
from fmops.argo.local.runner import RunOptions, run_workflow
from fmops.core.errors import InputError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
# a generated workflow runs its engine (threads, files): fewer examples in the fast tier
FAST_RUNS = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
MARKER = "escaped-by-hostile-input"

TOKENS = [
    *"0 1 7 1.5 1e8 1e308 99999999999999999999 -1 'a' 'aaaa!' \"x\" `raw` true false nil".split(),
    *"+ - * / % ** ^ == != < > <= >= && || ! ?? ? : . ?. .. , ( ) [ ] { } #".split(),
    *"and or not in matches contains startsWith endsWith".split(),
    *"map filter all any count len sprig.repeat sprig.add asInt fromJson toJson jsonpath string".split(),
    *"inputs.parameters.x inputs.parameters.n tasks.a.outputs.result '(a+)+$' '(' '\\\\1'".split(),
]
VARIABLES = {"inputs.parameters.x": "aaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "inputs.parameters.n": "12"}
expression_texts = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.text(max_size=60),
    st.builds(lambda n, t: "(" * n + t + ")" * n, st.integers(0, 400), st.sampled_from(TOKENS)),
)


def only_input_errors(action) -> None:
    try:
        action()
    except (InputError, TemplateError):
        pass


def expression_cases(text: str) -> None:
    only_input_errors(lambda: substitute("{{=" + text + "}}", VARIABLES))
    only_input_errors(lambda: condition(text))
    only_input_errors(lambda: depends(text.replace("{", ""), {"a": "Succeeded", "b": "Failed"}))


@FAST
@given(expression_texts)
def test_an_expression_evaluates_or_is_an_input_error(text: str):
    expression_cases(text)


@pytest.mark.slow
@SLOW
@given(expression_texts)
def test_an_expression_evaluates_or_is_an_input_error_many(text: str):
    expression_cases(text)


BASE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "hostile"},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "items", "value": '["a", "b"]'}]},
        "templates": [
            {
                "name": "main",
                "steps": [
                    [{"name": "make", "template": "make", "withParam": "{{workflow.parameters.items}}"}],
                    [
                        {
                            "name": "use",
                            "template": "use",
                            "arguments": {
                                "artifacts": [{"name": "in", "from": "{{steps.make.outputs.artifacts.out}}"}]
                            },
                        }
                    ],
                ],
            },
            {
                "name": "make",
                "retryStrategy": {"limit": 1},
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "claim"}}],
                "container": {
                    "image": "busybox",
                    "command": ["true"],
                    "volumeMounts": [{"name": "v", "mountPath": "/data", "subPath": "sub"}],
                },
                "inputs": {"artifacts": [{"name": "r", "path": "/in/raw", "raw": {"data": "x"}}]},
                "outputs": {
                    "parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p", "default": "d"}}],
                    "artifacts": [
                        {"name": "out", "path": "/tmp/out", "optional": True, "s3": {"key": "k/{{pod.name}}"}}
                    ],
                },
            },
            {
                "name": "use",
                "inputs": {"artifacts": [{"name": "in", "path": "/in/x", "optional": True}]},
                "container": {"image": "busybox", "command": ["true"], "workingDir": "/work"},
            },
        ],
    },
}


def places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every field path of a manifest (mapping keys and list indexes)."""
    found = [path] if path else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, inner in items:
        found += places(inner, (*path, key))
    return found


PLACES = places(BASE)
hostile_paths = st.builds(lambda n: "../" * n + MARKER, st.integers(1, 6)) | st.just("/" + MARKER)
hostile_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12) | hostile_paths,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
mutations = st.lists(st.tuples(st.sampled_from(PLACES), hostile_values), min_size=1, max_size=4)


def mutated(changes: list[tuple[tuple, Any]]) -> dict[str, Any]:
    manifest = copy.deepcopy(BASE)
    for path, value in changes:
        target = manifest
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change replaced what held this field
    return manifest


def finished(outcome: pods.Process, log: Path, stopping=None) -> pods.Outcome:
    """A process that ends at once (no process starts: the property is about what the executor does)."""
    return pods.Outcome("Succeeded", 0, "", "")


def workflow_case(changes: list[tuple[tuple, Any]]) -> None:
    with mock.patch.object(pods, "execute", finished), tempfile.TemporaryDirectory() as sandbox:
        deep = Path(sandbox) / "a" / "b" / "c" / "d" / "e" / "f"
        run, library = deep / "run", Path(sandbox) / "library"
        library.mkdir()
        file = Path(sandbox) / "wf.yaml"
        file.write_text(yaml.safe_dump(mutated(changes)).replace("/" + MARKER, f"{sandbox}/{MARKER}"))
        only_input_errors(lambda: run_workflow(RunOptions(template=str(file), workflows=library, workdir=run)))
        escaped = [p for p in Path(sandbox).rglob(f"*{MARKER}*") if run not in p.parents]
        assert escaped == []


@FAST_RUNS
@given(mutations)
def test_a_hostile_workflow_runs_or_is_refused_and_stays_inside(changes):
    workflow_case(changes)


@pytest.mark.slow
@SLOW
@given(mutations)
def test_a_hostile_workflow_runs_or_is_refused_and_stays_inside_many(changes):
    workflow_case(changes)
