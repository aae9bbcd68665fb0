"""`fmops validate`: one test per rule, each planting the mistake and asserting the exact line."""

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from fmops.argo.validate import validate

from tests.helpers import ROOT, cli

WORKFLOWS = ROOT / "workflows"


def planted(tmp_path: Path, file: str, change: Callable[[dict], None]) -> list[str]:
    """Copy workflows/, apply `change` to one file's manifest, validate the copy."""
    copy = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, copy)
    manifest = yaml.safe_load((copy / file).read_text(encoding="utf-8"))
    change(manifest)
    (copy / file).write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return [line.replace(f"{copy}/", "") for line in validate([copy])]


def template(manifest: dict, name: str) -> dict:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def index_of(manifest: dict, name: str) -> int:
    return [t["name"] for t in manifest["spec"]["templates"]].index(name)


def task(manifest: dict, dag: str, name: str) -> dict:
    return next(t for t in template(manifest, dag)["dag"]["tasks"] if t["name"] == name)


def pipeline_task(name: str) -> str:
    """`dag.tasks[i]` of the committed pipeline's task `name`, as the validator names it."""
    pipeline = yaml.safe_load((WORKFLOWS / "fmops-pipeline.yaml").read_text(encoding="utf-8"))
    tasks = [t["name"] for t in template(pipeline, "pipeline")["dag"]["tasks"]]
    return f"dag.tasks[{tasks.index(name)}]"


def test_committed_workflows_are_clean():
    assert validate([WORKFLOWS]) == []
    result = cli("validate")
    assert result.returncode == 0
    assert result.stdout == "13 documents checked, 0 problem(s)\n"


def test_misspelled_field_is_an_error_not_dropped(tmp_path):
    def typo(m):
        retry = template(m, "train")["retryStrategy"]
        retry["bakoff"] = retry.pop("backoff")

    i = index_of(yaml.safe_load((WORKFLOWS / "fmops-pretrain.yaml").read_text()), "train")
    assert planted(tmp_path, "fmops-pretrain.yaml", typo) == [
        f"fmops-pretrain.yaml: WorkflowTemplate/fmops-pretrain: spec.templates[{i}].retryStrategy.bakoff: unknown field"
    ]


def test_dangling_template_ref(tmp_path):
    def dangle(m):
        task(m, "pipeline", "sft")["templateRef"]["name"] = "fmops-sftt"

    [line] = planted(tmp_path, "fmops-pipeline.yaml", dangle)
    assert line.startswith("fmops-pipeline.yaml: WorkflowTemplate/fmops-pipeline: spec.templates[")
    assert line.endswith(f"].{pipeline_task('sft')}: templateRef: no WorkflowTemplate named 'fmops-sftt'")


def test_template_ref_to_a_missing_template(tmp_path):
    def dangle(m):
        task(m, "pipeline", "gate")["templateRef"]["template"] = "gait"

    [line] = planted(tmp_path, "fmops-pipeline.yaml", dangle)
    assert line.endswith("templateRef: WorkflowTemplate 'fmops-evaluate' has no template 'gait'")


def test_unknown_parameter_passed(tmp_path):
    def extra(m):
        task(m, "pipeline", "dpo")["arguments"]["parameters"].append({"name": "betta", "value": "0.1"})

    [line] = planted(tmp_path, "fmops-pipeline.yaml", extra)
    assert line.endswith(f"].{pipeline_task('dpo')}.arguments: 'betta' is not an input of the called template")


def test_required_input_not_passed(tmp_path):
    def drop(m):
        arguments = task(m, "pipeline", "gate")["arguments"]
        arguments["parameters"] = [p for p in arguments["parameters"] if p["name"] != "candidate"]

    [line] = planted(tmp_path, "fmops-pipeline.yaml", drop)
    assert line.endswith(f"].{pipeline_task('gate')}.arguments: required input 'candidate' is not passed")


def test_unresolved_references(tmp_path):
    def break_refs(m):
        train = template(m, "train")
        train["container"]["args"].append("{{inputs.parameters.modle}}")
        task(m, "pretrain", "collect")["arguments"]["parameters"][0]["value"] = "{{tasks.train.outputs.parameters.x}}"

    lines = planted(tmp_path, "fmops-pretrain.yaml", break_refs)
    assert any(line.endswith("'{{inputs.parameters.modle}}': not an input of this template") for line in lines)
    assert any(line.endswith("'{{tasks.train.outputs.parameters.x}}': 'train' has no output 'x'") for line in lines)


def test_unknown_workflow_parameter(tmp_path):
    def break_ref(m):
        task(m, "pipeline", "sft")["arguments"]["parameters"][0]["value"] = "{{workflow.parameters.base-modle}}"

    [line] = planted(tmp_path, "fmops-pipeline.yaml", break_ref)
    assert line.endswith("'{{workflow.parameters.base-modle}}': not a workflow parameter")


def test_missing_entrypoint(tmp_path):
    def rename(m):
        m["spec"]["entrypoint"] = "deploi"

    assert planted(tmp_path, "fmops-deploy.yaml", rename) == [
        "fmops-deploy.yaml: WorkflowTemplate/fmops-deploy: spec.entrypoint: no template named 'deploi'"
    ]


def test_gpu_step_without_toleration(tmp_path):
    def untolerate(m):
        del template(m, "train")["tolerations"]

    [line] = planted(tmp_path, "fmops-sft.yaml", untolerate)
    assert line.endswith(": GPU step without the nvidia.com/gpu toleration")


def test_gpu_step_without_shm_or_node_selector(tmp_path):
    def strip(m):
        del template(m, "evaluate")["nodeSelector"]
        del template(m, "evaluate")["volumes"]

    lines = planted(tmp_path, "fmops-evaluate.yaml", strip)
    assert [line.rsplit(": ", 1)[1] for line in lines] == [
        "GPU step without a nodeSelector for a GPU node pool",
        "GPU step without a memory-backed /dev/shm",
    ]


def test_latest_image(tmp_path):
    def latest(m):
        template(m, "gate")["container"]["image"] = "ghcr.io/fmops/fmops-eval:latest"

    i = index_of(yaml.safe_load((WORKFLOWS / "fmops-evaluate.yaml").read_text()), "gate")
    assert planted(tmp_path, "fmops-evaluate.yaml", latest) == [
        f"fmops-evaluate.yaml: WorkflowTemplate/fmops-evaluate: spec.templates[{i}]: "
        "image 'ghcr.io/fmops/fmops-eval:latest' is not pinned"
    ]


def test_untagged_image_inside_a_pytorchjob(tmp_path):
    def untag(m):
        parameters = template(m, "train-pytorchjob")["inputs"]["parameters"]
        next(p for p in parameters if p["name"] == "image")["default"] = "ghcr.io/fmops/fmops-train"

    lines = planted(tmp_path, "fmops-dpo.yaml", untag)
    assert lines and all(line.endswith("image 'ghcr.io/fmops/fmops-train' is not pinned") for line in lines)


def test_training_step_without_retries(tmp_path):
    def no_retry(m):
        del template(m, "train")["retryStrategy"]

    [line] = planted(tmp_path, "fmops-pretrain.yaml", no_retry)
    assert line.endswith(": training step without a retryStrategy limit")


def test_step_without_deadline(tmp_path):
    def no_deadline(m):
        del template(m, "plan")["activeDeadlineSeconds"]

    [line] = planted(tmp_path, "fmops-pipeline.yaml", no_deadline)
    assert line.endswith(": no activeDeadlineSeconds")


def test_unlabelled_gpu_request(tmp_path):
    def unlabel(m):
        del template(m, "evaluate")["metadata"]

    [line] = planted(tmp_path, "fmops-evaluate.yaml", unlabel)
    assert line.endswith("requests GPUs but is not labelled fmops.io/step-kind: gpu|training")


def test_cli_exit_status_and_format(tmp_path):
    bad = tmp_path / "bad.yaml"
    manifest = yaml.safe_load((WORKFLOWS / "fmops-deploy.yaml").read_text())
    manifest["spec"]["entrypoint"] = "nope"
    bad.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    result = cli("validate", str(bad))
    assert result.returncode == 1
    assert result.stderr == f"{bad}: WorkflowTemplate/fmops-deploy: spec.entrypoint: no template named 'nope'\n"
    assert result.stdout == "1 documents checked, 1 problem(s)\n"


def test_unreadable_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n", encoding="utf-8")
    [line] = validate([bad])
    assert line.startswith(f"{bad}: cannot read: ")


def test_missing_path_is_bad_input():
    result = cli("validate", "does/not/exist")
    assert result.returncode == 2
    assert result.stderr == "fmops validate: error: does/not/exist: does not exist\n"
