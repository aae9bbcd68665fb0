"""The NetworkPolicies of namespace fmops (argocd/addons/fmops/networkpolicies.yaml), evaluated: which
pods may open a connection to which, by the rules of the NetworkPolicy API (a connection is allowed when
an egress policy of the source and an ingress policy of the destination both allow it, or no policy of
that direction selects the pod). Schema validity is checked with the other core objects
(test_argocd_schema.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.infra.conftest import ARGOCD, yaml_documents

POLICIES = yaml_documents(ARGOCD / "addons" / "fmops" / "networkpolicies.yaml")
PORTS = {"http": 8000}  # the vLLM container's named port (python/fmops/serving/spec.py)


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)

    def ns_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def matches(selector: dict, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        ok = {
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
        }[operator]
        if not ok:
            return False
    return True


def peer_matches(peer: dict, pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False  # pods are addressed by selector here; ipBlocks are for traffic leaving the cluster
    if "namespaceSelector" in peer:
        in_namespace = matches(peer["namespaceSelector"], pod.ns_labels())
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and matches(peer.get("podSelector") or {}, pod.labels)


def port_matches(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(PORTS.get(p.get("port"), p.get("port")) in (port, None) for p in ports)


def allowed(direction: str, subject: Pod, peer: Pod, port: int) -> bool:
    """Whether the policies of `subject`'s namespace let it send (egress) to / receive (ingress) from `peer`."""
    kind, key = ("Egress", "to") if direction == "egress" else ("Ingress", "from")
    selecting = [
        p
        for p in POLICIES
        if p["metadata"]["namespace"] == subject.namespace
        and kind in p["spec"]["policyTypes"]
        and matches(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(direction) or []:
            peers = rule.get(key)
            if (not peers or any(peer_matches(x, peer, subject.namespace) for x in peers)) and port_matches(rule, port):
                return True
    return False


def connects(source: Pod, destination: Pod, port: int) -> bool:
    return allowed("egress", source, destination, port) and allowed("ingress", destination, source, port)


VLLM = Pod("fmops", {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "demo"})
STEP = Pod("fmops", {"workflows.argoproj.io/workflow": "fmops-pipeline-x1", "fmops.io/step-kind": "cpu"})
PICKER = Pod("fmops", {"fmops.io/network-role": "endpoint-picker"})
GATEWAY = Pod("gateway", {"app": "envoy"}, {"fmops.io/network-role": "gateway"})
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
REPLICA = {"fmops.io/job": "uid-pretrain", "fmops.io/step-kind": "training"}


@pytest.mark.parametrize(
    "source",
    [STEP, PICKER, GATEWAY, PROMETHEUS],
    ids=["workflow step", "endpoint picker", "gateway", "prometheus"],
)
def test_vllm_answers_its_clients(source):
    assert allowed("ingress", VLLM, source, 8000)


def test_workflow_steps_and_the_picker_may_send_to_vllm():
    assert connects(STEP, VLLM, 8000) and connects(PICKER, VLLM, 8000)


@pytest.mark.parametrize(
    "source",
    [
        Pod("fmops", {"app": "anything"}),  # a pod someone starts in fmops without the workflow label
        Pod("fmops", REPLICA),  # a training replica (Argo does not label the operator's pods)
        Pod("default", {"workflows.argoproj.io/workflow": "elsewhere"}),  # the label outside fmops
        Pod("kube-system", {"k8s-app": "kube-dns"}),
        Pod("argo", {"app": "argo-server"}),
    ],
    ids=["unlabelled pod", "training replica", "other namespace", "kube-system", "argo"],
)
def test_nobody_else_reaches_vllm(source):
    assert not connects(source, VLLM, 8000)


def test_default_deny_covers_every_pod_of_the_namespace():
    stranger = Pod("fmops", {"app": "anything"})
    assert not allowed("ingress", stranger, STEP, 8080)
    assert not allowed("egress", stranger, Pod("fmops", {"app": "other"}), 8080)
    assert any(p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress", "Egress"] for p in POLICIES)


def test_training_replicas_reach_each_other_on_any_port():
    master, worker = Pod("fmops", REPLICA), Pod("fmops", {**REPLICA, "training.kubeflow.org/replica-type": "worker"})
    assert connects(worker, master, 29500) and connects(master, worker, 43_117)
    assert not connects(STEP, master, 29500)


def test_the_picker_is_asked_by_the_gateway_only():
    assert connects(GATEWAY, PICKER, 9002)
    assert not connects(STEP, PICKER, 9002)


def test_every_pod_resolves_names_and_reaches_https():
    dns = Pod("kube-system", {"k8s-app": "kube-dns"})
    for pod in (VLLM, STEP, PICKER, Pod("fmops", REPLICA)):
        assert allowed("egress", pod, dns, 53)
    https = [
        rule
        for p in POLICIES
        if p["spec"]["podSelector"] == {}
        for rule in p["spec"].get("egress") or []
        if any(x.get("ipBlock") for x in rule["to"])
    ]
    assert {(r["to"][0]["ipBlock"]["cidr"], r["ports"][0]["port"]) for r in https} == {
        ("0.0.0.0/0", 443),
        ("169.254.170.23/32", 80),  # the EKS Pod Identity agent
    }
