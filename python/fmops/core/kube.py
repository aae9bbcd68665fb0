"""The Kubernetes API client the steps that call the cluster share: in-cluster credentials inside a pod,
else the kubeconfig."""

from __future__ import annotations

import os
from typing import Any


def connect() -> Any:
    """An ApiClient: in-cluster credentials inside a pod, else the kubeconfig ($KUBECONFIG)."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        # $KUBECONFIG read now: the client's own default is frozen when it is first imported.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    return client.ApiClient()
