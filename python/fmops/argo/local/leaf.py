"""A leaf template's node: its pod's processes (a container, a script, a containerSet's containers in order,
or a PyTorchJob under torchrun), run in attempts under its retryStrategy and deadline, then its outputs read."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from fmops.argo.local import jobs, pods
from fmops.argo.local.artifacts import read_outputs
from fmops.argo.local.nodes import BAD, Context, Node
from fmops.argo.local.outputs import default_outputs
from fmops.argo.local.paths import folder_name, inside
from fmops.argo.local.retries import backoff_seconds, last_retry, retry_limit, retryable
from fmops.argo.local.runtime import Runtime
from fmops.argo.local.support import deletes_a_pytorchjob, reports_a_trainjob_failure, resource_kind
from fmops.core.errors import InputError

Processes = list[tuple[str, pods.Process]]  # (container name, its process), in the order they run


def run_leaf(
    engine: Runtime, node: Node, template: dict[str, Any], context: Context, artifacts: dict[str, Any]
) -> Node:
    try:
        folder = re.sub(r"[^\w.-]", "_", node.id.replace("/", "."))
        directory = inside(engine.run_dir, "steps", folder if folder.strip(".") else "_")
    except InputError as error:
        return engine.update(node, "Error", str(error))
    directory.mkdir(parents=True, exist_ok=True)
    node.log = str(directory / "log.txt")
    retry = template.get("retryStrategy") or {}
    try:
        limit = retry_limit(retry, context.variables)
    except InputError as error:
        return engine.update(node, "Error", str(error))
    last: dict[str, str] = {}
    while True:
        variables = {**engine.current(context.variables), "retries": str(node.attempts), **last}
        node.attempts += 1
        remaining = None if context.deadline is None else context.deadline - time.time()
        if remaining is not None and remaining <= 0:
            return engine.update(node, "Failed", "Step exceeded its deadline")
        if deletes_a_pytorchjob(template):
            return engine.update(node, "Succeeded", "deletes the Kubeflow job on a cluster; locally it has ended")
        if reports_a_trainjob_failure(template):
            node.exit_code = "1"
            return engine.update(node, "Failed", local_trainjob_failure(engine, node))
        if "resource" in template and resource_kind(template) not in jobs.JOB_KINDS:
            return engine.update(node, "Error", "resource templates other than Kubeflow jobs cannot run locally")
        try:
            processes = pod_processes(engine, template, variables, directory, artifacts)
        except InputError as error:
            return engine.update(node, "Error", str(error))
        for _, each in processes:
            if remaining is not None:
                each.timeout = min(each.timeout or remaining, remaining)
            for note in each.notes:
                node.message = note
        started = time.time()
        outcome = attempt(engine, node, template, processes, variables)
        if outcome.phase == "Succeeded":
            retried = f"succeeded on attempt {node.attempts}" if node.attempts > 1 else ""
            return engine.update(node, "Succeeded", "; ".join([*processes[-1][1].notes, retried]).strip("; "))
        seconds = time.time() - started
        if node.attempts > limit or not retryable(retry, outcome, seconds):
            default_outputs(template, node)
            return engine.update(node, outcome.phase, outcome.message)
        last = last_retry(outcome, node.exit_code, seconds)
        engine.update(node, "Running", f"attempt {node.attempts} {outcome.phase.lower()} ({outcome.message}); retrying")
        try:
            pause = backoff_seconds(retry.get("backoff") or {}, node.attempts, context.variables)
        except InputError as error:
            return engine.update(node, "Error", str(error))
        if pause:
            time.sleep(pause)


def local_trainjob_failure(engine: Runtime, node: Node) -> str:
    """What `fmops trainjob-failure` says on a cluster, here, where the TrainJob ran as this machine's
    processes: their failure, the message of the failed step beside this one (the DAG runs this step only
    after that one failed)."""
    parent = node.id.rpartition("/")[0]
    failed = [
        n
        for n in list(engine.nodes.values())
        if n is not node and n.leaf and n.phase in BAD and n.id.rpartition("/")[0] == parent
    ]
    causes = "; ".join(f"{n.id}: {n.message or n.phase}" for n in failed) or "no failed step beside this one"
    return f"TrainJob failed (run here as local processes): {causes}"


def pod_processes(
    engine: Runtime, template: dict[str, Any], variables: dict[str, Any], directory: Path, artifacts: dict[str, Any]
) -> Processes:
    """The processes of the template's pod; the input artifacts are staged with the first one."""
    if "resource" in template:
        return [("main", pods.pytorchjob_process(template, variables, directory))]
    bodies = pods.container_set(template) if "containerSet" in template else [None]
    staging = {"passed": artifacts, "repository": engine.repository, "run_dir": engine.run_dir}
    return [
        (
            (body or {}).get("name", "main"),
            pods.container_process(
                template,
                variables,
                directory,
                staging if index == 0 else None,
                volumes=engine.run_dir / "volumes",
                config_map=engine.config_map,
                body=body,
            ),
        )
        for index, body in enumerate(bodies)
    ]


def attempt(
    engine: Runtime, node: Node, template: dict[str, Any], processes: Processes, variables: dict[str, Any]
) -> pods.Outcome:
    """One attempt: the processes run (holding a slot of the pod budget), then the outputs are read. A
    declared output that was not written makes the attempt an Error."""
    with engine.limits.pods:
        engine.update(node, "Running")
        outcome = execute(processes, Path(node.log), engine.stopping)
    node.exit_code = None if outcome.exit_code is None else str(outcome.exit_code)
    node.result = outcome.stdout
    if outcome.phase != "Succeeded":
        return outcome
    try:
        artifacts_dir = inside(engine.run_dir, "artifacts", folder_name(node.id), what="artifact folder")
        node.outputs, node.artifacts = read_outputs(
            template, processes[-1][1].paths, artifacts_dir, engine.repository, variables, engine.run_dir
        )
    except InputError as error:
        return pods.Outcome("Error", 0, str(error))
    engine.publish_globals(template, node)
    return outcome


def execute(processes: Processes, log: Path, stopping: threading.Event) -> pods.Outcome:
    """Run a pod's containers in order; the first failure ends it; the result is the `main` one's stdout."""
    result = None
    for name, process in processes:
        outcome = pods.execute(process, log, stopping)
        if name == "main" or len(processes) == 1:
            result = outcome.stdout
        if outcome.phase != "Succeeded":
            return outcome
    return pods.Outcome("Succeeded", 0, "", result)
