"""No parameter value can change the shape of a PyTorchJob a resource template creates.

Argo fills a resource manifest's tags in as raw text before the YAML is parsed: a plain `{{inputs.parameters.x}}`
in single quotes let a value with a quote and newlines add a container (one that mounts a Secret, say). The
templates put every parameter in as `{{=toJson(...)}}`, a JSON string literal that YAML reads as one scalar. Each
committed PyTorchJob template is filled with hostile values two ways, as Argo's controller does and as `fmops run`
does, and must come out with its one container per replica, each value intact as one argument."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fmops.argo.local import pods
from fmops.argo.local.expressions import evaluate, render, substitute
from fmops.core.errors import InputError

from tests.helpers import ROOT

COUNTS = {"nodes": "2", "gpus-per-node": "8", "efa-per-node": "32"}


def resource_templates() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((ROOT / "workflows").glob("fmops-*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for template in (document or {}).get("spec", {}).get("templates") or []:
                if "PyTorchJob" in (template.get("resource") or {}).get("manifest", ""):
                    found.append((f"{path.stem}:{template['name']}", template))
    return found


TEMPLATES = resource_templates()
IDS = [name for name, _ in TEMPLATES]


def parameter_names(manifest: str) -> set[str]:
    plain = re.findall(r"\{\{inputs\.parameters\.([\w-]+)\}\}", manifest)
    indexed = re.findall(r"""inputs\.parameters\[["']([\w-]+)["']\]""", manifest)
    return {*plain, *indexed, *re.findall(r"inputs\.parameters\.([\w-]+)", manifest)}


def injection(manifest: str, marker: str) -> str:
    """A value that, filled in as raw text at an argument, closes the quote and starts a second container of
    the replica (which takes over the arguments after it); `marker` names the container."""
    indent = re.search(r"^( *)- name: pytorch$", manifest, re.M).group(1)
    return f"x'\n{indent}- name: {marker}\n{indent}  image: evil:1\n{indent}  args:\n{indent}  - 'y"


def variables_with(manifest: str, hostile: str = "") -> dict[str, str]:
    """A value for every parameter the manifest names: numbers for the counts, the injection for `hostile`."""
    values = {"workflow.name": "run", "workflow.uid": "0f0e0d0c"}
    for name in parameter_names(manifest):
        plain = COUNTS.get(name, f"value-of-{name}")
        values[f"inputs.parameters.{name}"] = injection(manifest, "evil") if name == hostile else plain
    return values


def cases() -> list[tuple[str, dict, str]]:
    """(template name, template, the one parameter given a hostile value), for every parameter but the counts."""
    return [
        (name, template, parameter)
        for name, template in TEMPLATES
        for parameter in sorted(parameter_names(template["resource"]["manifest"]) - set(COUNTS))
    ]


def argo_substitute(manifest: str, variables: dict[str, str]) -> str:
    """The manifest as Argo's controller fills it in: the template is marshalled to JSON, each tag replaced in
    that JSON text (a simple tag's value JSON-escaped; an expression, after its text is unescaped, evaluated and
    its result formatted like Go's %v, then JSON-escaped), and the text unmarshalled."""
    text = json.dumps(manifest)

    def expression(match: re.Match) -> str:
        source = json.loads(f'"{match.group(1)}"')
        return json.dumps(render(evaluate(source, variables)))[1:-1]

    def simple(match: re.Match) -> str:
        return json.dumps(variables[match.group(1).strip()])[1:-1]

    text = re.sub(r"\{\{=(.*?)\}\}", expression, text)
    text = re.sub(r"\{\{([^=}][^}]*)\}\}", simple, text)
    return json.loads(text)


FILLERS = {"argo": argo_substitute, "fmops run": substitute}


CASES = cases()


@pytest.mark.parametrize("filler", FILLERS)
@pytest.mark.parametrize(("name", "template", "hostile"), CASES, ids=[f"{n}:{p}" for n, _, p in CASES])
def test_a_hostile_value_stays_one_scalar(name, template, hostile, filler):
    manifest = template["resource"]["manifest"]
    variables = variables_with(manifest, hostile)
    value = variables[f"inputs.parameters.{hostile}"]
    job = yaml.safe_load(FILLERS[filler](manifest, variables))
    for role, replica in job["spec"]["pytorchReplicaSpecs"].items():
        pod = replica["template"]["spec"]
        assert [c["name"] for c in pod["containers"]] == ["pytorch"], f"{name} {role}: a container was added"
        assert [v["name"] for v in pod["volumes"]] == ["dshm"]
        (container,) = pod["containers"]
        words = [container["image"], *container["command"], *container["args"]]
        assert value in words or f"{hostile}={value}" in words, f"{hostile} is not one intact scalar"


def test_the_templates_have_no_plain_parameter_tag_in_a_manifest():
    assert len(TEMPLATES) == 4
    for name, template in TEMPLATES:
        assert "{{inputs.parameters." not in template["resource"]["manifest"], name


@pytest.mark.parametrize("count", sorted(COUNTS))
@pytest.mark.parametrize(("name", "template"), TEMPLATES, ids=IDS)
def test_a_count_that_is_not_an_integer_fails_before_the_job_exists(name, template, count):
    manifest = template["resource"]["manifest"]
    if count not in parameter_names(manifest):
        pytest.skip(f"{name} does not take {count}")
    variables = variables_with(manifest) | {f"inputs.parameters.{count}": "8\n  evil: 1"}
    with pytest.raises(InputError, match="asInt"):
        substitute(manifest, variables)


def test_fmops_run_passes_a_hostile_value_as_one_argument(tmp_path: Path):
    (template,) = [t for name, t in TEMPLATES if name == "fmops-sft:train-pytorchjob"]
    variables = variables_with(template["resource"]["manifest"], "model")
    process = pods.pytorchjob_process(template, variables, tmp_path)
    model = variables["inputs.parameters.model"]
    assert process.command[process.command.index("--model") + 1] == model
    assert "--nproc_per_node" in process.command and process.command.count("--model") == 1
