"""Terraform and Argo CD read as data for the infra tests: HCL blocks by kind and name, locals, variable
defaults, and the PodSecurity level each namespace is created with."""

from __future__ import annotations

from tests.infra.conftest import applications, hcl_blocks, hcl_files, unquote

LEVEL = "pod-security.kubernetes.io/enforce"


def block(category: str, kind: str, name: str) -> dict:
    """The body of `<category> "<kind>" "<name>"` (resource or data)."""
    (body,) = [
        body
        for _, label, bodies in hcl_blocks(category)
        if label == kind
        for key, body in bodies.items()
        if unquote(key) == name
    ]
    return body


def resource(kind: str, name: str) -> dict:
    return block("resource", kind, name)


def local(name: str) -> object:
    values = [body[name] for path, parsed in _locals() for body in parsed if name in body]
    (value,) = values
    return value


def _locals():
    return [(path, parsed.get("locals", [])) for path, parsed in hcl_files().items()]


def variable_default(name: str):
    (body,) = [body for _, label, body in hcl_blocks("variable") if label == name]
    return body.get("default")


def terraform_levels() -> dict[str, str]:
    """namespace -> enforced level of the namespaces Terraform creates."""
    body = resource("kubernetes_namespace_v1", "platform")
    assert body["for_each"] == "${local.namespace_pod_security}"
    labels = body["metadata"][0]["labels"]
    assert unquote(labels[f'"{LEVEL}"']) == "${each.value}"
    return {unquote(k): unquote(v) for k, v in local("namespace_pod_security").items()}


def argocd_levels() -> dict[str, str]:
    """namespace -> enforced level of the namespaces Argo CD creates (CreateNamespace=true)."""
    found = {}
    for path, app in applications():
        policy = app["spec"].get("syncPolicy", {})
        if "CreateNamespace=true" not in policy.get("syncOptions", []):
            continue
        namespace = app["spec"]["destination"]["namespace"]
        labels = policy.get("managedNamespaceMetadata", {}).get("labels", {})
        if namespace != "kube-system":
            assert LEVEL in labels, f"{path.name}: creates namespace {namespace} without a PodSecurity level"
            found[namespace] = labels[LEVEL]
    return found
