"""The one model of Argo YAML: kinds, spec unwrapping, template lookup, templateRef resolution, references."""

from pathlib import Path

import pytest
from fmops.argo.documents import (
    Document,
    Library,
    called_template,
    default_dir,
    input_references,
    read,
    references,
    resource_manifest,
)
from fmops.core.errors import InputError

from tests.helpers import ROOT

FILES = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: shared}
spec:
  templates:
  - {name: hello, container: {image: busybox:1.36, command: [echo]}}
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata: {name: cluster-wide}
spec:
  templates:
  - {name: hello, container: {image: busybox:1.36, command: [echo]}}
---
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      steps: [[{name: say, templateRef: {name: shared, template: hello}}]]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-argo}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: adhoc-}
spec: {entrypoint: main, templates: [{name: main, container: {image: busybox:1.36, command: [echo]}}]}
"""


@pytest.fixture
def library(tmp_path: Path) -> Library:
    (tmp_path / "all.yaml").write_text(FILES, encoding="utf-8")
    return Library.load(tmp_path)


def test_only_runnable_kinds_are_read_and_named(tmp_path: Path):
    (tmp_path / "all.yaml").write_text(FILES, encoding="utf-8")
    assert [(d.kind, d.name) for d in read(tmp_path / "all.yaml")] == [
        ("WorkflowTemplate", "shared"),
        ("ClusterWorkflowTemplate", "cluster-wide"),
        ("CronWorkflow", "nightly"),
        ("Workflow", "adhoc-"),
    ]


def test_a_cron_workflow_keeps_its_spec_in_workflow_spec(library: Library):
    nightly = library.document("nightly")
    assert nightly.spec_path == "spec.workflowSpec"
    assert nightly.spec["entrypoint"] == "main"
    assert [path for path, _ in nightly.templates()] == ["spec.workflowSpec.templates[0]"]
    assert library.document("shared").spec_path == "spec"


def test_template_ref_resolves_by_kind_and_cluster_scope(library: Library):
    assert library.template_ref({"name": "shared", "template": "hello"}).document.kind == "WorkflowTemplate"
    scope = library.template_ref({"name": "cluster-wide", "template": "hello", "clusterScope": True})
    assert (scope.document.kind, scope.name) == ("ClusterWorkflowTemplate", "hello")


@pytest.mark.parametrize(
    "ref, message",
    [
        ({"name": "nope", "template": "hello"}, "templateRef: no WorkflowTemplate named 'nope'"),
        ({"name": "shared", "template": "bye"}, "templateRef: WorkflowTemplate 'shared' has no template 'bye'"),
        ({"name": "cluster-wide", "template": "hello"}, "templateRef: no WorkflowTemplate named 'cluster-wide'"),
        (
            {"name": "shared", "template": "hello", "clusterScope": True},
            "templateRef: no ClusterWorkflowTemplate named 'shared'",
        ),
        ({"name": "nightly", "template": "main"}, "templateRef: no WorkflowTemplate named 'nightly'"),
    ],
)
def test_template_ref_errors_name_what_is_missing(library: Library, ref: dict, message: str):
    with pytest.raises(InputError) as error:
        library.template_ref(ref)
    assert str(error.value) == message


def test_a_call_resolves_locally_or_through_its_template_ref(library: Library):
    nightly = library.document("nightly")
    main = library.local(nightly, "main")
    [[step]] = main.template["steps"]
    assert library.target(main, step).document.name == "shared"
    assert called_template(step) == "hello"
    with pytest.raises(InputError, match="^nightly: no template named 'hello'$"):
        library.target(main, {"name": "x", "template": "hello"})


def test_unknown_document_names_the_directory_and_what_it_has(library: Library, tmp_path: Path):
    with pytest.raises(InputError) as error:
        library.document("nope")
    assert str(error.value) == (
        f"no WorkflowTemplate, CronWorkflow or Workflow named 'nope' in {tmp_path} "
        "(found: adhoc-, cluster-wide, nightly, shared)"
    )


def test_loading_refuses_a_missing_directory_and_invalid_yaml(tmp_path: Path):
    with pytest.raises(InputError, match="workflows directory does not exist"):
        Library.load(tmp_path / "absent")
    (tmp_path / "bad.yml").write_text("kind: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.yml: not valid YAML \("):
        Library.load(tmp_path)


def test_references_in_simple_and_expression_tags():
    text = "{{inputs.parameters.a}} {{ workflow.parameters.b }} {{tasks.t.outputs.parameters.c}} {{workflow.name}}"
    found = references(text)
    assert [str(r) for r in found] == [
        "{{inputs.parameters.a}}",
        "{{workflow.parameters.b}}",
        "{{tasks.t.outputs.parameters.c}}",
        "{{workflow.name}}",
    ]
    assert [r.parameter("workflow") for r in found] == [None, "b", None, None]
    assert [r.output for r in found] == [None, None, ("t", "c"), None]
    expression = "{{=asInt(inputs.parameters.n) * asInt(inputs.parameters.m)}} {{inputs.parameters.a}}"
    assert input_references(expression) == ["a", "n", "m"]


def test_resource_manifest_fills_known_tags_and_blanks_the_rest():
    manifest = "kind: PyTorchJob\nspec: {replicas: '{{inputs.parameters.n}}', image: '{{x}}'}"
    template = {"resource": {"manifest": manifest}}
    assert resource_manifest(template, {"{{x}}": "busybox:1.36"}) == {
        "kind": "PyTorchJob",
        "spec": {"replicas": "0", "image": "busybox:1.36"},
    }
    assert resource_manifest({"resource": {"manifest": "a: [b"}}) == {}


def test_default_dir_is_the_checkouts_workflows():
    assert default_dir() == ROOT / "workflows"


def test_document_without_kind_or_name_still_prints():
    document = Document("x.yaml", {})
    assert (document.kind, document.name, document.spec, document.template("main")) == ("?", "?", {}, None)
