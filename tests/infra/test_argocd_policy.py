"""What the Applications, pools and RBAC under argocd/ must say: values files exist, charts are pinned,
the workflows Application overrides the images and settings the rendered kustomization declares, sync
waves put CRDs and RBAC first, GPU pools are tainted and capped, and the security defaults hold."""

from __future__ import annotations

import re

import yaml

from tests.infra.conftest import ARGOCD, ROOT, applications, argocd_documents, yaml_documents

EXACT = re.compile(r"^v?\d+\.\d+\.\d+$")
APPS = {doc["metadata"]["name"]: doc for _, doc in applications()}


def sources(app: dict) -> list[dict]:
    spec = app["spec"]
    return spec.get("sources") or [spec["source"]]


def wave(name: str) -> int:
    return int(APPS[name]["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def values(name: str) -> dict:
    return yaml.safe_load((ARGOCD / "addons" / name / "values.yaml").read_text())


def test_every_referenced_values_file_exists():
    referenced = set()
    for name, app in APPS.items():
        refs = {source.get("ref") for source in sources(app)}
        for source in sources(app):
            for value_file in source.get("helm", {}).get("valueFiles", []):
                assert value_file.startswith("$values/"), f"{name}: {value_file} is not from this repository"
                assert "values" in refs, f"{name}: uses $values without a `ref: values` source"
                path = ROOT / value_file.removeprefix("$values/")
                assert path.is_file(), f"{name}: values file {value_file} does not exist"
                referenced.add(path)
    on_disk = set(ARGOCD.glob("addons/*/values.yaml"))
    assert referenced == on_disk, f"values files no Application uses: {sorted(on_disk - referenced)}"


def test_helm_charts_are_pinned_and_have_values_beside_them():
    charts = {}
    for name, app in APPS.items():
        for source in sources(app):
            if "chart" in source:
                assert EXACT.match(str(source["targetRevision"])), f"{name}: {source['targetRevision']}"
                assert source["helm"]["valueFiles"] == [f"$values/argocd/addons/{name}/values.yaml"], name
                charts[source["chart"]] = source["targetRevision"]
    assert charts["argo-workflows"] == "1.0.13"  # Argo Workflows v4.0.5, the controller Hera 7.x renders for
    assert set(charts) >= {
        "argo-workflows",
        "kube-prometheus-stack",
        "gpu-operator",
        "keda",
        "aws-efa-k8s-device-plugin",
    }


def test_git_sources_are_this_repository_or_pinned_tags():
    for name, app in APPS.items():
        for source in sources(app):
            if "chart" in source:
                continue
            if source["repoURL"] == "FMOPS_REPO_URL":
                assert source["targetRevision"] == "FMOPS_GIT_REVISION", name
            else:
                assert EXACT.match(source["targetRevision"]), f"{name}: unpinned {source['targetRevision']}"


def test_projects_restrict_sources_and_destinations():
    projects = {doc["metadata"]["name"]: doc["spec"] for _, doc in argocd_documents() if doc["kind"] == "AppProject"}
    assert projects["fmops"]["sourceRepos"] == ["FMOPS_REPO_URL"]
    assert [d["namespace"] for d in projects["fmops"]["destinations"]] == ["fmops"]
    assert projects["fmops"]["clusterResourceWhitelist"] == []
    assert "*" not in projects["platform"]["sourceRepos"]
    assert all(d["namespace"] != "*" for d in projects["platform"]["destinations"])
    for name, app in APPS.items():
        project = projects[app["spec"]["project"]]
        for source in sources(app):
            assert source["repoURL"] in project["sourceRepos"], f"{name}: {source['repoURL']} not in its project"
        assert app["spec"]["destination"]["namespace"] in {d["namespace"] for d in project["destinations"]}


def test_root_syncs_the_apps_directory():
    root = yaml_documents(ARGOCD / "root.yaml")[0]
    assert root["spec"]["source"]["path"] == "argocd/apps"
    names = {yaml_documents(path)[0]["metadata"]["name"] for path in (ARGOCD / "apps").glob("*.yaml")}
    assert names == set(APPS) - {"fmops-root"}


def test_workflows_application():
    app = APPS["fmops-workflows"]
    source = app["spec"]["source"]
    assert source["path"] == "workflows" and app["spec"]["project"] == "fmops"
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
    kustomization = yaml.safe_load((ROOT / "workflows" / "kustomization.yaml").read_text())
    declared = {image["name"] for image in kustomization["images"]}
    overridden = {image.split("=")[0] for image in source["kustomize"]["images"]}
    assert overridden == declared == {"ghcr.io/fmops/fmops-train", "ghcr.io/fmops/fmops-eval"}
    (patch,) = source["kustomize"]["patches"]
    assert patch["target"] == {"kind": "ConfigMap", "name": "fmops-settings"}
    settings = yaml.safe_load((ROOT / "workflows" / "fmops-settings.yaml").read_text())
    patched = {op["path"].removeprefix("/data/") for op in yaml.safe_load(patch["patch"])}
    assert patched == set(settings["data"]) == {"storage-root", "data-root", "model-name"}


def test_sync_waves_put_crds_and_rbac_before_the_templates():
    assert wave("kube-prometheus-stack") < wave("argo-workflows")  # ServiceMonitor CRD before its users
    for first in ("argo-workflows", "training-operator", "keda", "gpu-operator", "fmops-rbac", "karpenter-nodepools"):
        assert wave(first) < wave("fmops-workflows"), first


def test_add_ons_sync_automatically_with_server_side_apply():
    for name, app in APPS.items():
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"]["selfHeal"] is True, name
        assert "ServerSideApply=true" in policy["syncOptions"], name


def pools() -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in argocd_documents() if doc["kind"] == "NodePool"}


def test_node_pools():
    found = pools()
    assert set(found) == {"gpu-train", "gpu-train-small", "gpu-serve", "cpu"}
    classes = {doc["metadata"]["name"] for _, doc in argocd_documents() if doc["kind"] == "EC2NodeClass"}
    requirement = {}
    for name, pool in found.items():
        spec = pool["spec"]["template"]["spec"]
        # gpu-train's class is chosen by Terraform (with or without the placement group).
        expected = {"FMOPS_GPU_TRAIN_NODE_CLASS"} if name == "gpu-train" else classes
        assert spec["nodeClassRef"]["name"] in expected, name
        requirement[name] = {r["key"]: set(r["values"]) for r in spec["requirements"]}
        gpu = name.startswith("gpu-")
        taints = [(t["key"], t["value"], t["effect"]) for t in spec.get("taints", [])]
        assert taints == ([("nvidia.com/gpu", "true", "NoSchedule")] if gpu else []), name
        assert ("nvidia.com/gpu" in pool["spec"]["limits"]) is gpu, name
    assert requirement["gpu-train"]["karpenter.k8s.aws/instance-family"] >= {"p5", "p4d"}
    assert requirement["gpu-serve"]["karpenter.k8s.aws/instance-family"] == {"g6e", "g5"}
    assert requirement["gpu-serve"]["karpenter.sh/capacity-type"] == {"spot", "on-demand"}
    # Below 8 GPUs a step trains on g-family instances, never on an 8-GPU p4d/p5.
    assert not requirement["gpu-train-small"]["karpenter.k8s.aws/instance-family"] & {"p5", "p5e", "p5en", "p4d"}
    assert requirement["gpu-train-small"]["karpenter.sh/capacity-type"] == {"on-demand"}


def test_one_file_per_pool_and_node_class():
    paths = sorted((ARGOCD / "addons" / "karpenter").glob("*.yaml"))
    assert len(paths) >= len(pools()) + 1
    for path in paths:
        (doc,) = yaml_documents(path)
        prefix = {"NodePool": "nodepool", "EC2NodeClass": "ec2nodeclass"}[doc["kind"]]
        assert path.stem == f"{prefix}-{doc['metadata']['name']}"


def test_node_classes_require_imdsv2_and_encrypt_volumes():
    classes = [doc for _, doc in argocd_documents() if doc["kind"] == "EC2NodeClass"]
    assert classes
    for doc in classes:
        assert doc["spec"]["metadataOptions"]["httpTokens"] == "required"
        volumes = doc["spec"]["blockDeviceMappings"]
        assert volumes and all(volume["ebs"]["encrypted"] for volume in volumes)


def grants(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_roles_are_split_by_need():
    roles = {doc["metadata"]["name"]: grants(doc) for _, doc in argocd_documents() if doc["kind"] == "Role"}
    assert set(roles) == {"fmops-executor", "fmops-launcher", "fmops-trainjob-reader", "fmops-deploy", "fmops-epp"}
    results = {("argoproj.io", "workflowtaskresults", verb) for verb in ("create", "patch")}
    assert roles["fmops-executor"] == results, "the executor of a training or eval step: task results only"
    jobs = {
        (group, kind, verb)
        for group, kind in (("kubeflow.org", "pytorchjobs"), ("trainer.kubeflow.org", "trainjobs"))
        for verb in ("create", "get", "delete")
    }
    assert results | jobs | {("argoproj.io", "workflows", "get")} <= roles["fmops-launcher"]
    assert {group for group, _, _ in roles["fmops-launcher"]} == {"argoproj.io", "kubeflow.org", "trainer.kubeflow.org"}
    serving = {("apps", "deployments"), ("", "services"), ("", "configmaps"), ("keda.sh", "scaledobjects")}
    assert {(g, r, v) for g, r in serving for v in ("create", "get", "patch", "delete")} <= roles["fmops-deploy"]
    assert not any(r.startswith("workflow") or r.endswith("jobs") for _, r, _ in roles["fmops-deploy"])
    assert {verb for _, _, verb in roles["fmops-epp"]} == {"get", "list", "watch"}, "the endpoint picker only reads"
    assert roles["fmops-trainjob-reader"] == {("trainer.kubeflow.org", "trainjobs", v) for v in ("get", "list")}
    for name, granted in roles.items():
        assert not any("*" in item for item in granted), name
        # Creating pods (or anything that makes pods from a spec it is given) would reach every Secret.
        assert not {r for _, r, v in granted if v in ("create", "patch")} & {"pods", "secrets", "roles", "rolebindings"}
        assert not any(r == "secrets" for _, r, _ in granted), name
    bindings = {doc["metadata"]["name"]: doc for _, doc in argocd_documents() if doc["kind"] == "RoleBinding"}
    assert set(bindings) == set(roles)
    for name, binding in bindings.items():
        assert binding["roleRef"]["name"] == name
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "fmops"}]
    accounts = {doc["metadata"]["name"]: doc for _, doc in argocd_documents() if doc["kind"] == "ServiceAccount"}
    assert set(accounts) == set(roles) | {"fmops-workflow", "fmops-serving"}
    # only the endpoint picker talks to the API server from its own process (it watches its pool's pods)
    mounted = {name for name, account in accounts.items() if account["automountServiceAccountToken"] is not False}
    assert mounted == {"fmops-epp"}


def test_argo_server_is_not_exposed_and_authenticates():
    server = values("argo-workflows")["server"]
    assert set(server["authModes"]) <= {"client", "sso"} and server["authModes"]
    assert server["serviceType"] == "ClusterIP" and server["ingress"]["enabled"] is False


def test_argo_artifacts_use_pod_identity():
    argo = values("argo-workflows")
    assert argo["useStaticCredentials"] is False
    assert argo["artifactRepository"]["s3"]["useSDKCreds"] is True
    assert argo["artifactRepository"]["s3"]["bucket"] == "FMOPS_BUCKET"
    assert argo["controller"]["workflowNamespaces"] == ["fmops"]


def test_grafana_password_comes_from_a_secret():
    grafana = values("kube-prometheus-stack")["grafana"]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert "adminPassword" not in grafana
    assert grafana["service"]["type"] == "ClusterIP"


def test_no_secret_values_in_git():
    for path, doc in argocd_documents():
        if doc["kind"] == "Secret":
            # Only the token Secrets Argo mounts for its executors, filled in by Kubernetes itself.
            assert doc["type"] == "kubernetes.io/service-account-token", path
            assert not {"data", "stringData"} & set(doc), f"{path}: a value in Git"
    for path in ARGOCD.rglob("*.yaml"):
        assert not re.search(r"(?i)^\s*(password|token|secret(key)?)\s*:\s*\S", path.read_text(), re.M), path


def test_argo_runs_only_workflows_from_templates():
    assert values("argo-workflows")["controller"]["workflowRestrictions"] == {"templateReferencing": "Strict"}
    for path in (ROOT / "workflows").glob("*.yaml"):
        for doc in yaml_documents(path):
            if doc.get("kind") == "CronWorkflow":
                assert set(doc["spec"]["workflowSpec"]) == {"workflowTemplateRef", "arguments"}, path.name
            assert doc.get("kind") != "Workflow", f"{path.name}: an inline Workflow, refused under Strict"
