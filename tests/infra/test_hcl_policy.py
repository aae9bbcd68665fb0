"""Policy for terraform/, read with python-hcl2: pinned providers and modules, no data "http", no
account ids, regions only as variable defaults, every component the platform needs (network, cluster,
Karpenter, bucket, registry, identities, Argo CD), one file each."""

from __future__ import annotations

import re

import pytest

from tests.infra.conftest import TERRAFORM, hcl_blocks, hcl_files, unquote

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
PESSIMISTIC = re.compile(r"^~> ?\d+\.\d+(\.\d+)?$")
ACCOUNT_ID = re.compile(r"(?<![\d.])\d{12}(?![\d.])")
REGION = re.compile(
    r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?(?:north|south|east|west|central)"
    r"(?:east|west)?-\d\b"
)


def test_every_file_parses():
    assert len(hcl_files()) >= 10


def test_registry_modules_are_pinned_exactly():
    modules = hcl_blocks("module")
    assert {name for _, name, _ in modules} >= {"vpc", "eks", "karpenter"}
    for path, name, body in modules:
        source = unquote(body["source"])
        assert source.startswith("terraform-aws-modules/"), f"{path.name}: module {name} from {source}"
        assert EXACT_VERSION.match(unquote(body.get("version", ""))), f"{path.name}: module {name} not pinned"


def test_eks_module_major_version():
    versions = {name: unquote(body["version"]) for _, name, body in hcl_blocks("module")}
    assert versions["eks"].split(".")[0] in {"20", "21"}
    assert versions["karpenter"] == versions["eks"], "the karpenter submodule comes from the eks module"


def test_providers_are_pinned():
    (versions,) = [parsed for path, parsed in hcl_files().items() if path.name == "versions.tf"]
    providers = versions["terraform"][0]["required_providers"][0]
    names = {name for name in providers if not name.startswith("__")}
    assert names >= {"aws", "helm", "kubernetes"}
    for name in names:
        constraint = unquote(providers[name]["version"])
        assert PESSIMISTIC.match(constraint) or EXACT_VERSION.match(constraint), f"{name}: {constraint}"
    assert "backend" in versions["terraform"][0], "remote state must be configurable (backend block)"


def resources(kind: str) -> dict[str, dict]:
    """name -> body of every `resource "<kind>" "<name>"` block."""
    return {
        unquote(name): body
        for _, label, bodies in hcl_blocks("resource")
        if label == kind
        for name, body in bodies.items()
    }


def test_helm_releases_are_pinned():
    versions = {name: unquote(body["version"]) for name, body in resources("helm_release").items()}
    assert set(versions) == {"karpenter_crd", "karpenter", "argocd", "argocd_root"}
    # Karpenter and its CRDs move together, from one local.
    assert versions["karpenter"] == versions["karpenter_crd"] == "${local.karpenter_version}"
    local_values = {
        k: v for parsed in hcl_files().values() for block in parsed.get("locals", []) for k, v in block.items()
    }
    versions["karpenter"] = versions["karpenter_crd"] = unquote(local_values["karpenter_version"])
    assert all(EXACT_VERSION.match(version) for version in versions.values()), versions
    assert versions["karpenter"] == "1.14.1"
    assert resources("helm_release")["karpenter"]["skip_crds"] is True, "the CRDs come from karpenter-crd"


def test_no_http_data_sources():
    assert not [name for _, name, _ in hcl_blocks("data") if name == "http"]
    for path in TERRAFORM.glob("*.tf"):
        assert not re.search(r'data\s+"http"', path.read_text()), path.name


def test_no_account_ids_in_code():
    for path in TERRAFORM.rglob("*"):
        if path.is_file() and ".terraform" not in path.parts:
            hits = ACCOUNT_ID.findall(path.read_text(errors="replace"))
            assert hits == [], f"{path.relative_to(TERRAFORM)}: account-id-like numbers {hits}"


def test_regions_only_as_variable_defaults():
    """A region may appear only as the `default =` of a variable in variables.tf: not in resources,
    providers, comments or other files."""
    offenders = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            allowed = path.name == "variables.tf" and re.match(r"\s*default\s*=", line)
            if REGION.search(line) and not allowed:
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
    defaults = {name: body.get("default") for _, name, body in hcl_blocks("variable")}
    assert REGION.fullmatch(unquote(defaults["region"]))


@pytest.mark.parametrize(
    "variable",
    [
        "region",
        "cluster_name",
        "repo_url",
        "vpc_cidr",
        "system_instance_types",
        "system_node_count",
        "bucket_name",
        "kubernetes_version",
    ],
)
def test_site_specific_values_are_variables(variable):
    assert variable in {name for _, name, _ in hcl_blocks("variable")}


def test_repo_url_has_no_default():
    (body,) = [body for _, name, body in hcl_blocks("variable") if name == "repo_url"]
    assert "default" not in body, "the fork's URL must be given, not guessed"


def test_one_file_per_component():
    files = {path.name for path in TERRAFORM.glob("*.tf")}
    assert files >= {
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "vpc.tf",
        "eks.tf",
        "karpenter.tf",
        "s3.tf",
        "ecr.tf",
        "identity.tf",
        "argocd.tf",
    }


def test_private_subnets_tagged_for_karpenter():
    (body,) = [body for _, name, body in hcl_blocks("module") if name == "vpc"]
    tags = {unquote(key): value for key, value in body["private_subnet_tags"].items()}
    assert tags["karpenter.sh/discovery"] == "${var.cluster_name}"


def test_bucket_hardening_present():
    kinds = {name for _, name, _ in hcl_blocks("resource")}
    assert kinds >= {
        "aws_s3_bucket",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_policy",
    }
    text = (TERRAFORM / "s3.tf").read_text()
    assert "aws:SecureTransport" in text and '"Deny"' in text


def test_ecr_repositories_scan_and_immutable():
    body = resources("aws_ecr_repository")["images"]
    assert unquote(body["image_tag_mutability"]) == "IMMUTABLE"
    assert body["image_scanning_configuration"][0]["scan_on_push"] is True
    (variable,) = [b for _, n, b in hcl_blocks("variable") if n == "ecr_repositories"]
    assert [unquote(name) for name in variable["default"]] == ["fmops-train", "fmops-eval"]


def test_pod_identities_scope_the_bucket():
    text = (TERRAFORM / "identity.tf").read_text()
    assert '"s3:*"' not in text and 'resources = ["*"]' not in text
    assert re.search(r'serving = \{[^}]*read\s*= \["fmops/models/"\]\s*write\s*= \[\]', text), (
        "serving reads models/ only"
    )
    for account in ("fmops-workflow", "fmops-deploy", "fmops-serving", "argo-server"):
        assert f'service_account = "{account}"' in text
    for key in ("aws:SourceAccount", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account"):
        assert key in text, f"trust policy without a {key} condition"


def test_api_endpoint_is_never_open_to_the_internet_by_default():
    variables = {name: body for _, name, body in hcl_blocks("variable")}
    assert "default" not in variables["endpoint_public_access_cidrs"], "who may reach the API is always given"
    text = (TERRAFORM / "variables.tf").read_text()
    assert 'cidr != "0.0.0.0/0"' in text and "length(var.endpoint_public_access_cidrs) > 0" in text


def test_placement_group_is_an_option():
    variables = {name: body for _, name, body in hcl_blocks("variable")}
    assert variables["training_placement_group"]["default"] is False
    group = resources("aws_placement_group")["training"]
    assert unquote(group["strategy"]) == "cluster" and "training_placement_group" in str(group["count"])
