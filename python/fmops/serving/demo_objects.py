"""The objects `fmops deploy --target cluster` would apply for the demo model, as files `fmops render` keeps
under argocd/ for review and offline validation (tests/infra), beside the Argo templates it renders."""

from __future__ import annotations

from typing import Any

from fmops.argo.render import SETTINGS, dump
from fmops.serving import objects
from fmops.serving.spec import ServingSpec

SERVING_DEMO = "argocd/addons/serving-demo"
SERVING_HEADER = (
    "# What `fmops deploy --target cluster` applies for the demo model ({variant}), rendered by `fmops render`\n"
    "# from python/fmops/serving/ for review and offline validation. No Argo CD Application syncs this\n"
    "# directory: the deploy step applies these objects itself, with the version it deploys. Do not edit.\n"
)


def serving_demo_specs() -> dict[str, Any]:
    """file name -> the ServingSpec of each variant: one node per replica with autoscaling, and the
    multi-node size of a 70B model (two 8-GPU nodes per replica, a LeaderWorkerSet)."""
    name = SETTINGS["model-name"]
    common = {
        "name": name,
        "model_uri": f"{SETTINGS['storage-root']}/registry/models/{name}/v20260101-000000",
        "version": "v20260101-000000",
        "max_replicas": 3,
    }
    return {
        "objects.yaml": ServingSpec(**common),
        "objects-multinode.yaml": ServingSpec(**common, gpus=8, nodes=2, memory="512Gi", cpu="32"),
    }


def serving_demo_files() -> dict[str, str]:
    """Path under the repository root -> exact content of each variant's file."""
    files = {}
    for name, spec in serving_demo_specs().items():
        variant = f"{spec.workload_kind}, {spec.nodes} node(s) x {spec.gpus} GPU(s) per replica"
        documents = "---\n".join(dump(obj) for obj in objects.all_manifests(spec))
        files[f"{SERVING_DEMO}/{name}"] = SERVING_HEADER.format(variant=variant) + documents
    return files
