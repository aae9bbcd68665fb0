"""One torch version across the README, .ci/run, CI and the images (whose locks test_image_locks.py
checks); the EFA plugin where the train image's OS puts it; the EFA installer checked against a sha256 at
build time; and .ci/pin.py, which finds every reference not pinned (image digests, action SHAs, the
installer checksum, the provider lock file) and pins them with resolvers that only CI or a workstation can
run (here: fakes)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys

import yaml

from tests.infra.ci_files import readme_test_command, steps, workflow
from tests.infra.conftest import IMAGES, ROOT

PIN_SCRIPT = ROOT / ".ci" / "pin.py"
TORCH = re.compile(r"torch==(\d+\.\d+\.\d+)")
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
# Where the AWS EFA installer puts its libraries, by the OS of the image (its Ubuntu packages use the
# Debian multiarch directory for the aws-ofi-nccl plugin; libfabric stays under efa/lib).
EFA_LAYOUT = {"ubuntu": {"plugin": "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu", "libfabric": "/opt/amazon/efa/lib"}}


def pin_module():
    spec = importlib.util.spec_from_file_location("fmops_pin", PIN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_one_torch_version_everywhere():
    constraints = (IMAGES / "constraints.txt").read_text()
    (pinned,) = TORCH.findall(constraints)
    assert TORCH.findall(readme_test_command()) == [pinned], "README install command"
    assert TORCH.findall((ROOT / ".ci" / "run").read_text().splitlines()[-1]) == [pinned], ".ci/run"
    ci = [
        version for job in workflow()["jobs"] for step in steps(job) for version in TORCH.findall(step.get("run", ""))
    ]
    assert ci and set(ci) == {pinned}, f"CI installs torch {sorted(set(ci))}, the images {pinned}"


def test_efa_plugin_path_matches_the_image_os():
    text = (IMAGES / "train" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    (os_name,) = {name for name in EFA_LAYOUT if all(name in base for base in bases)}
    layout = EFA_LAYOUT[os_name]
    (library_path,) = re.findall(r"LD_LIBRARY_PATH=(\S+)", text)
    entries = library_path.split(":")
    assert layout["plugin"] in entries and layout["libfabric"] in entries, entries
    assert "/opt/amazon/ofi-nccl/lib" not in entries, "on Ubuntu the plugin is not in lib/: NCCL would use TCP"
    assert f"ls {layout['plugin']}/libnccl-net*.so {layout['libfabric']}/libfabric.so*" in text, "checked at build"


def test_efa_installer_is_checked_against_a_sha256():
    text = (IMAGES / "train" / "Dockerfile").read_text()
    assert re.search(r"^ARG EFA_INSTALLER_SHA256=", text, re.M)
    download = text.index("curl -fsSL -o /tmp/efa.tar.gz")
    check = text.index('echo "${EFA_INSTALLER_SHA256}  /tmp/efa.tar.gz" | sha256sum --check --strict -')
    assert download < check < text.index("./efa_installer.sh"), "checked after download, before it runs"
    assert text.index('test -n "${EFA_INSTALLER_SHA256}"') < download, "an empty checksum refuses the build"


def test_pin_check_finds_every_unpinned_reference():
    found = pin_module().findings(ROOT)
    kinds = {finding.problem for finding in found}
    references = {finding.reference for finding in found}
    # What no offline machine can pin today is reported, each kind at least once.
    assert any(ref.startswith("nvidia/cuda:") for ref in references) or all(
        "@sha256:" in line for f in DOCKERFILES for line in f.read_text().splitlines() if line.startswith("FROM")
    )
    for finding in found:
        assert finding.path and finding.reference and finding.problem, finding
    assert kinds <= {
        "image not pinned by digest",
        "no EFA_INSTALLER_SHA256",
        "action not pinned to a commit SHA (with its tag as a comment)",
        "provider not in the lock file (terraform providers lock)",
    }


def fake_tree(tmp_path):
    """A copy of the files the pin script reads."""
    for relative in (
        ".github/workflows/ci.yml",
        "terraform/versions.tf",
        "images/train/Dockerfile",
        "images/eval/Dockerfile",
        "python/fmops/argo/templates/validate_cluster.py",
        "python/fmops/serving/spec.py",
    ):
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, target)
    return tmp_path


def test_pin_write_pins_everything_with_resolvers(tmp_path):
    pin = pin_module()
    root = fake_tree(tmp_path)
    asked = []
    changes = pin.rewrite(
        root,
        image_digest=lambda ref: asked.append(ref) or "sha256:" + "a" * 64,
        action_sha=lambda action, tag: "b" * 40,
        efa_sha256=lambda version: "c" * 64,
    )
    assert changes and "nvidia/cuda:12.8.1-base-ubuntu24.04" in asked
    assert not any(ref.startswith("ghcr.io/fmops/") for ref in asked), "own images are overridden by kustomize"
    (root / "terraform" / ".terraform.lock.hcl").write_text(
        "".join(
            f'provider "registry.terraform.io/hashicorp/{name}" {{\n}}\n'
            for name in ("aws", "helm", "kubernetes", "random")
        )
    )
    assert pin.findings(root) == []
    text = (root / "images" / "train" / "Dockerfile").read_text()
    assert f"FROM nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:{'a' * 64} AS build" in text
    assert f"ARG EFA_INSTALLER_SHA256={'c' * 64}" in text
    uses = [
        s["uses"]
        for job in yaml.safe_load((root / ".github/workflows/ci.yml").read_text())["jobs"].values()
        for s in job["steps"]
        if "uses" in s
    ]
    assert uses and all(use.endswith("@" + "b" * 40) for use in uses)
    assert f"actions/checkout@{'b' * 40} # v" in (root / ".github/workflows/ci.yml").read_text()
    assert pin.rewrite(root, None, None, None) == [], "a pinned tree asks the network nothing"


def test_pin_check_exits_nonzero_on_an_unpinned_tree(tmp_path, capsys):
    root = fake_tree(tmp_path)
    assert pin_module().main(["--root", str(root)]) == 1
    assert "unpinned reference(s): run python3 .ci/pin.py --write" in capsys.readouterr().err


def test_ci_checks_pins_builds_images_on_pull_requests_and_locks_providers():
    jobs = workflow()["jobs"]
    assert any(step.get("run") == "python3 .ci/pin.py" for step in jobs["pins"]["steps"])
    assert "pins" in jobs["images"]["needs"], "only pinned images are pushed"
    build = jobs["images-build"]
    assert "pull_request" in build["if"] and "pull_request" in workflow()[True]
    (builder,) = [step for step in build["steps"] if step.get("uses", "").startswith("docker/build-push-action@")]
    assert builder["with"]["push"] is False and "id-token" not in str(build.get("permissions", {}))
    assert set(build["strategy"]["matrix"]["image"]) == {"train", "eval"}
    lock = "\n".join(step.get("run", "") for step in jobs["terraform"]["steps"])
    assert (
        "terraform -chdir=terraform providers lock" in lock
        and "git diff --exit-code -- terraform/.terraform.lock.hcl" in lock
    )
