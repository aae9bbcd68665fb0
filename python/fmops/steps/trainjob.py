"""Why a run's TrainJob failed, read from the cluster, as the one line its training step fails with.

    fmops trainjob-failure --namespace fmops --selector fmops.io/job=<workflow uid>-pretrain

Argo's resource step waits for the TrainJob's Failed condition, but when it holds it reports only that it
did ("failure condition '...' evaluated true") and saves no outputs. The condition itself says why: Trainer
copies the JobSet's (reason FailedJobs, "jobset failed due to one or more job failures") or writes its own
(DeadlineExceeded, TrainingRuntimeNotSupported). This step runs when that step failed, lists the run's
TrainJobs by their label (each retry created one, under a generated name), and describes the newest.
"""

from __future__ import annotations

import json
from typing import Any

from fmops.core import kube
from fmops.core.errors import InputError

GROUP, VERSION, PLURAL = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
# The kubelet keeps at most 2,048 bytes of a failed container's log as its termination message.
MESSAGE_LIMIT = 1000
REQUEST_TIMEOUT_S = 30


class ClusterError(RuntimeError):
    """The TrainJobs could not be read (no credentials, RBAC, the API unreachable): one line."""


def one_line(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= MESSAGE_LIMIT else flat[: MESSAGE_LIMIT - 3] + "..."


def condition_text(condition: dict[str, Any]) -> str:
    """`Reason: message`, either part left out when empty."""
    parts = [one_line(condition.get("reason")), one_line(condition.get("message"))]
    return ": ".join(part for part in parts if part) or "no reason given"


def describe(trainjobs: list[dict[str, Any]], selector: str, namespace: str) -> str:
    """Why the newest of a run's TrainJobs failed, or what state it is in when it did not fail."""
    if not trainjobs:
        return (
            f"no TrainJob labelled {selector} in namespace {namespace}: it was never created (the step's own "
            "message says why) or was deleted"
        )
    newest = max(trainjobs, key=lambda job: (job["metadata"].get("creationTimestamp") or "", job["metadata"]["name"]))
    name = newest["metadata"]["name"]
    if len(trainjobs) > 1:
        name += f" (the newest of {len(trainjobs)} of this run)"
    conditions = (newest.get("status") or {}).get("conditions") or []
    holding = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    if "Failed" in holding:
        return f"TrainJob {name} failed: {condition_text(holding['Failed'])}"
    if "Complete" in holding:
        return f"TrainJob {name} completed; its step failed for another reason (see that step's message)"
    if "Suspended" in holding:
        queued = condition_text(holding["Suspended"])
        return f"TrainJob {name} did not fail: still suspended, Kueue never admitted it ({queued})"
    if conditions:
        last = conditions[-1]
        return f"TrainJob {name} did not fail: {last.get('type')}={last.get('status')} ({condition_text(last)})"
    return f"TrainJob {name} did not fail: it has no condition yet (Trainer has not reconciled it)"


def check_selector(selector: str) -> None:
    if not selector.strip() or "=" not in selector:
        raise InputError(f"--selector {selector!r}: expected a label selector such as fmops.io/job=<uid>-pretrain")


def read_trainjobs(namespace: str, selector: str, api: Any = None) -> list[dict[str, Any]]:
    """The TrainJobs with `selector`'s labels in `namespace`, as plain dicts; ClusterError when they cannot be
    read."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        custom = client.CustomObjectsApi(api or kube.connect())
        listed = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, label_selector=selector, _request_timeout=REQUEST_TIMEOUT_S
        )
    except config.ConfigException as error:
        raise ClusterError(f"no cluster to read TrainJobs from: {one_line(str(error))}") from None
    except ApiException as error:
        try:
            message = json.loads(error.body or "{}").get("message") or error.reason
        except json.JSONDecodeError:
            message = error.reason
        raise ClusterError(f"cannot list {PLURAL} in {namespace}: HTTP {error.status}: {one_line(message)}") from None
    except HTTPError as error:
        raise ClusterError(f"cannot reach the Kubernetes API: {one_line(str(error))}") from None
    return list(listed.get("items") or [])


def trainjob_failure(namespace: str, selector: str, api: Any = None) -> str:
    """The line that says why the run's TrainJob failed (see the module's docstring)."""
    check_selector(selector)
    return describe(read_trainjobs(namespace, selector, api), selector, namespace)
