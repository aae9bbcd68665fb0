"""Every path `fmops run` derives from a Workflow file stays inside the run directory: loop items, artifact
names and keys, step and template names, volume claims, subPaths and ConfigMap item paths, pod paths; and a
symlink or `from` that points outside is refused with its reason, never followed."""

from pathlib import Path

import pytest
from fmops.argo.local import artifacts, pods
from fmops.argo.local.paths import folder_name, inside
from fmops.core.errors import InputError

ESCAPES = ["../x", "../../x", "a/../../x", "/../../x"]


@pytest.mark.parametrize("part", ESCAPES)
def test_inside_refuses_a_part_that_leaves_the_root(tmp_path: Path, part: str):
    with pytest.raises(InputError, match="leaves the run directory"):
        inside(tmp_path / "run", part, what="key")


def test_inside_refuses_a_symlink_out_and_keeps_what_stays(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "out").symlink_to(tmp_path)
    with pytest.raises(InputError):
        inside(run, "out", "x")
    assert inside(run, "a/./b") == (run / "a" / "b").resolve()


@pytest.mark.parametrize("item", ["/../../x", "..", "../..", "a/../../../b"])
def test_a_loop_item_in_a_node_id_becomes_a_folder_inside(tmp_path: Path, item: str):
    folder = folder_name(f"main/loop(0:{item})")
    target = inside(tmp_path, "artifacts", folder)
    assert tmp_path.resolve() in target.parents
    assert ".." not in Path(folder).parts


@pytest.mark.parametrize(
    "volume, mount",
    [
        ({"name": "v", "persistentVolumeClaim": {"claimName": "../../escaped"}}, {}),
        ({"name": "v", "emptyDir": {}}, {"subPath": "../../../escaped"}),
        ({"name": "v", "configMap": {"name": "m", "items": [{"key": "k", "path": "../../../escaped"}]}}, {}),
    ],
)
def test_volume_claims_subpaths_and_config_map_items_stay_inside(tmp_path: Path, volume: dict, mount: dict):
    run = tmp_path / "run"
    template = {"volumes": [volume]}
    body = {"volumeMounts": [{"name": "v", "mountPath": "/data", **mount}]}
    with pytest.raises(InputError, match="leaves the run directory"):
        pods.volume_paths(template, body, run / "steps" / "s", run / "volumes", lambda name, key: "data")
    assert not list(tmp_path.rglob("escaped*"))


def test_pod_paths_fold_dot_dot_as_a_pod_would(tmp_path: Path):
    root = tmp_path / "root"
    mapped = pods.remap(["/../../../etc/x", "/tmp/../../y"], root)
    assert all(path == root.resolve() or root.resolve() in path.parents for path in mapped.values())
    assert mapped["/../../../etc/x"] == (root / "etc" / "x").resolve()
    assert artifacts.pod_path("/../../x") == "/x"


def staged(tmp_path: Path, artifact: dict, passed: dict) -> None:
    run = tmp_path / "run"
    (run / "artifact-repository").mkdir(parents=True)
    paths = {"/in": run / "root" / "in"}
    staging = {"passed": passed, "repository": run / "artifact-repository", "run_dir": run}
    artifacts.stage_inputs({"inputs": {"artifacts": [artifact]}}, {}, paths, staging)


def test_an_input_key_that_climbs_out_of_the_repository_is_refused(tmp_path: Path):
    (tmp_path / "secret").write_text("host file")
    with pytest.raises(InputError, match="input artifact 'a': key"):
        staged(tmp_path, {"name": "a", "path": "/in", "s3": {"key": "../../secret"}}, {})
    assert not (tmp_path / "run" / "root" / "in").exists()


def test_an_argument_from_outside_the_run_is_refused(tmp_path: Path):
    with pytest.raises(InputError, match="input artifact 'a': from"):
        staged(tmp_path, {"name": "a", "path": "/in"}, {"a": {"from": "/etc/passwd"}})


def outputs(tmp_path: Path, template: dict, make) -> tuple[dict, dict]:
    run = tmp_path / "run"
    root = run / "steps" / "s" / "root"
    (root / "tmp").mkdir(parents=True)
    make(root / "tmp")
    paths = {"/tmp": root / "tmp", "/tmp/out": root / "tmp" / "out"}
    return artifacts.read_outputs(template, paths, run / "artifacts" / "s", run / "artifact-repository", {}, run)


def test_an_output_parameter_symlinked_out_of_the_run_is_refused(tmp_path: Path):
    (tmp_path / "secret").write_text("host file")
    template = {"outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/out"}}]}}
    with pytest.raises(InputError, match="output parameter 'p': .* points outside the run directory"):
        outputs(tmp_path, template, lambda tmp: (tmp / "out").symlink_to(tmp_path / "secret"))


def test_an_output_artifact_holding_a_symlink_out_is_refused(tmp_path: Path):
    (tmp_path / "secret").write_text("host file")

    def make(tmp: Path) -> None:
        (tmp / "out").mkdir()
        (tmp / "out" / "link").symlink_to(tmp_path / "secret")

    template = {"outputs": {"artifacts": [{"name": "a", "path": "/tmp/out"}]}}
    with pytest.raises(InputError, match="output artifact 'a': .* points outside the run directory"):
        outputs(tmp_path, template, make)


@pytest.mark.parametrize(
    "artifact",
    [
        {"name": "../../../escaped", "path": "/tmp/out"},
        {"name": "a", "path": "/tmp/out", "s3": {"key": "../../../escaped"}},
    ],
)
def test_an_output_artifact_name_or_key_cannot_climb_out(tmp_path: Path, artifact: dict):
    with pytest.raises(InputError, match="leaves the run directory"):
        outputs(tmp_path, {"outputs": {"artifacts": [artifact]}}, lambda tmp: (tmp / "out").write_text("x"))
    assert not list(tmp_path.rglob("escaped*"))
