"""What a fresh AWS account needs on day one: each namespace's PodSecurity level admits what runs in it
(privileged only where a DaemonSet reads the host), every Application retries with backoff and a stuck
sync ends and reports, the Spot service-linked role exists, the GitHub OIDC provider is adopted by
default, and the VPC takes the zones a region has without assuming three."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.infra.conftest import TERRAFORM, applications, unavailable, unquote
from tests.infra.namespaces import argocd_levels, block, local, resource, terraform_levels, variable_default

# Namespaces whose DaemonSets need host access: node-exporter (monitoring), the GPU operator's device
# plugin and DCGM exporter (gpu-operator), the EFA device plugin (kube-system, privileged by default).
PRIVILEGED = {"monitoring", "gpu-operator", "kube-system"}


def test_namespace_levels_admit_what_runs_there():
    levels = terraform_levels() | argocd_levels()
    assert levels["monitoring"] == "privileged", "node-exporter needs hostNetwork, hostPID and hostPath"
    assert levels["gpu-operator"] == "privileged"
    assert levels["fmops"] == "restricted", "every pod fmops generates passes restricted"
    for namespace, level in levels.items():
        assert level in {"privileged", "baseline", "restricted"}, namespace
        if namespace not in PRIVILEGED:
            assert level != "privileged", f"{namespace}: privileged without a DaemonSet that needs the host"
    assert set(levels) >= {"fmops", "monitoring", "gpu-operator", "argo", "keda", "kubeflow"}


def test_terraform_and_argocd_agree_on_shared_namespaces():
    terraform, argocd = terraform_levels(), argocd_levels()
    for namespace in set(terraform) & set(argocd):
        assert terraform[namespace] == argocd[namespace], namespace


def test_every_application_retries_with_backoff():
    for path, app in applications():
        retry = app["spec"]["syncPolicy"].get("retry")
        assert retry and retry["limit"] > 0, f"{path.name}: no sync retry"
        assert {"duration", "factor", "maxDuration"} <= set(retry["backoff"]), path.name


def argo_cd_values() -> dict:
    return yaml.safe_load((TERRAFORM / "helm-values" / "argo-cd.yaml").read_text())


def test_a_stuck_sync_ends_and_reports():
    configs = argo_cd_values()["configs"]
    assert int(configs["params"]["controller.sync.timeout.seconds"]) > 0, "0 means a wave may wait for ever"
    health = configs["cm"]["resource.customizations.health.argoproj.io_Application"]
    assert "operationState" in health and '"Degraded"' in health, "a failed child sync must show as Degraded"


def test_spot_service_linked_role_is_created_or_adopted():
    role = resource("aws_iam_service_linked_role", "spot")
    assert unquote(role["aws_service_name"]) == "spot.amazonaws.com"
    assert role["count"] == "${var.create_spot_service_linked_role ? 1 : 0}"
    adopted = block("data", "aws_iam_role", "spot")
    assert unquote(adopted["name"]) == "AWSServiceRoleForEC2Spot"
    assert adopted["count"] == "${var.create_spot_service_linked_role ? 0 : 1}"
    assert "${aws_iam_service_linked_role.spot}" in resource("helm_release", "karpenter")["depends_on"]


def test_github_oidc_provider_is_adopted_by_default():
    assert variable_default("create_github_oidc_provider") is False
    found = block("data", "aws_iam_openid_connect_provider", "github")
    assert unquote(found["url"]) == "https://token.actions.githubusercontent.com"
    assert "data.aws_iam_openid_connect_provider.github" in str(local("github_oidc_provider_arn"))


def test_zones_fit_a_region_with_fewer_than_asked():
    """The azs expression, evaluated by `terraform console` with a two-zone region and three asked for."""
    binary = shutil.which("terraform")
    if binary is None:
        unavailable("terraform is not on PATH, so the zone expression cannot be evaluated")
    expression = str(local("azs")).removeprefix("${").removesuffix("}")
    expression = expression.replace("local.zones", '["r-2a", "r-2b"]').replace("var.availability_zone_count", "3")
    result = subprocess.run([binary, "console"], input=expression, capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout.replace("tolist(", "").replace(")", "")) == ["r-2a", "r-2b"]


def test_argocd_readme_lists_every_application_with_its_wave_and_level():
    text = (TERRAFORM.parent / "argocd" / "README.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("Application", "---"):
            rows[cells[0]] = cells
    levels = terraform_levels() | argocd_levels() | {"kube-system": "privileged"}
    for _, app in applications():
        name = app["metadata"]["name"]
        if name == "fmops-root":
            continue
        assert name in rows, f"argocd/README.md does not list {name}"
        _, _, namespace, level, wave = rows[name]
        assert wave == app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"], name
        destination = app["spec"]["destination"]["namespace"]
        if namespace != "cluster":
            assert namespace == destination, name
            assert level.split()[0] == levels[destination], f"{name}: README says {level}"
