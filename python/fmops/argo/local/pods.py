"""Run one container, script or PyTorchJob template as local processes, the way its pod would run.

Local overrides (documented in workflows/README.md):
- the image is not pulled: the command runs in this Python environment (`fmops` and `python` resolve to
  the interpreter running `fmops run`); GPU requests, node selectors and tolerations are ignored; where a
  container gives no command, the image's known entrypoint (support.ENTRYPOINTS) is used;
- the pod's own files (output paths, input artifact paths and their directories) are remapped into the
  step's directory, in the command, args, script source and env too, so a step writing /tmp/x writes
  <step>/root/tmp/x; volume mounts map onto a directory per volume (emptyDir: per pod; a claim: per run);
- a script template's source is written to a file that `command` runs (with the execute bit, as Argo does);
- env from a Secret is read from the local environment variable of the same name (left unset if optional);
- input artifacts are staged before the process starts: `raw` data, `from` another step's output, or a
  repository key (s3.key, ...) under the run's artifact repository, where output artifacts with a key go too;
- a PyTorchJob with N replicas runs as `torchrun --standalone --nproc_per_node N` over its Master container;
- the template's deadline becomes the process's time limit; `outputs.result` is the process's stdout
  (trimmed, at most Argo's 256 kB).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import parameters
from fmops.argo.local import jobs
from fmops.argo.local.artifacts import pod_path, stage_inputs
from fmops.argo.local.expressions import substitute
from fmops.argo.local.paths import inside
from fmops.argo.local.support import entrypoint
from fmops.core.errors import InputError

RESULT_LIMIT = 256 * 1024  # Argo's limit on outputs.result


@dataclass
class Process:
    command: list[str]
    env: dict[str, str]
    directory: Path
    timeout: float | None
    paths: dict[str, Path] = field(default_factory=dict)  # a pod path or its directory -> local path
    files: list[Path] = field(default_factory=list)  # where the declared output files will be written
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    phase: str  # Succeeded | Failed | Error
    exit_code: int | None = None
    message: str = ""
    stdout: str | None = None


def output_paths(template: dict[str, Any]) -> list[str]:
    outputs = template.get("outputs") or {}
    paths = [(p.get("valueFrom") or {}).get("path") for p in parameters(outputs)]
    paths += [a.get("path") for a in outputs.get("artifacts") or []]
    return [p for p in paths if p]


def input_paths(template: dict[str, Any]) -> list[str]:
    return [a["path"] for a in (template.get("inputs") or {}).get("artifacts") or [] if a.get("path")]


def remap(paths: list[str], root: Path) -> dict[str, Path]:
    """Each pod path and its directory, mapped under `root`."""
    mapped: dict[str, Path] = {}
    for path in paths:
        for candidate in (path, str(Path(path).parent)):
            if candidate not in ("/", ".", "") and candidate.startswith("/"):
                mapped[candidate] = inside(root, pod_path(candidate).lstrip("/"), what="pod path")
    return mapped


def rewrite(text: str, mapping: dict[str, Path]) -> str:
    if not mapping:
        return text
    pattern = re.compile(
        r"(?<![\w./-])(" + "|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True)) + r")(?![\w.-])"
    )
    return pattern.sub(lambda m: str(mapping[m.group(1)]), text)


def interpreter(command: list[str]) -> list[str]:
    """`fmops` and `python` run on this interpreter; `torchrun` as its module."""
    head, rest = command[0], command[1:]
    if head == "fmops":
        return [sys.executable, "-m", "fmops", *rest]
    if head in ("python", "python3", "/usr/bin/python", "/usr/local/bin/python", "/usr/bin/python3"):
        return [sys.executable, *rest]
    if head == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", *rest]
    return command


def environment(
    env: list[dict[str, Any]],
    variables: dict[str, Any],
    notes: list[str],
    mapping: dict[str, Path] | None = None,
    config_map: Callable[[str, str], str] | None = None,
) -> dict[str, str]:
    result = dict(os.environ)
    for entry in env:
        name = entry["name"]
        if "value" in entry:
            result[name] = substitute(rewrite(str(entry["value"]), mapping or {}), variables)
            continue
        source = entry.get("valueFrom") or {}
        if "configMapKeyRef" in source and config_map is not None:
            ref = source["configMapKeyRef"]
            result[name] = config_map(ref.get("name"), ref.get("key"))
            continue
        secret = source.get("secretKeyRef") or {}
        if name in os.environ:
            notes.append(f"env {name}: taken from the local environment (Secret {secret.get('name')} on the cluster)")
        elif not secret.get("optional"):
            raise InputError(
                f"env {name}: from Secret {secret.get('name')}; set {name} in the environment to run locally"
            )
    return result


def deadline_of(template: dict[str, Any]) -> float | None:
    deadline = str(template.get("activeDeadlineSeconds") or "")
    return float(deadline) if deadline.isdigit() else None


def volume_paths(
    template: dict[str, Any],
    body: dict[str, Any],
    directory: Path,
    volumes: Path | None,
    config_map: Callable[[str, str], str] | None,
) -> dict[str, Path]:
    """Each volume mount's path -> a local directory: emptyDir per pod, a claim per run, a ConfigMap's keys."""
    declared = {v["name"]: v for v in template.get("volumes") or []}
    shared = volumes or directory / "volumes"
    mapped = {}
    for mount in body.get("volumeMounts") or []:
        name = str(mount["name"])
        volume = declared.get(name, {})
        if "emptyDir" in volume:
            local = inside(directory / "volumes", name, what="volume")
        elif "persistentVolumeClaim" in volume:
            claim = str((volume["persistentVolumeClaim"] or {}).get("claimName", name))
            local = inside(shared, claim, what="claimName")
        else:
            local = inside(shared, name, what="volume")
        if "configMap" in volume and config_map is not None:
            for item in volume["configMap"].get("items") or []:
                file = inside(local, str(item["path"]), what="configMap item path")
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(config_map(volume["configMap"]["name"], item["key"]), encoding="utf-8")
        local = inside(local, str(mount["subPath"]), what="subPath") if mount.get("subPath") else local
        local.mkdir(parents=True, exist_ok=True)
        mapped[pod_path(str(mount["mountPath"]))] = local
    return mapped


def container_process(
    template: dict[str, Any],
    variables: dict[str, Any],
    directory: Path,
    staging: dict[str, Any] | None = None,
    *,
    volumes: Path | None = None,
    config_map: Callable[[str, str], str] | None = None,
    body: dict[str, Any] | None = None,
) -> Process:
    """The process of a container or script template (or of one container of a containerSet: `body`).
    Pod paths are rewritten in the template's own text before its variables are filled in, so a value
    that happens to be a local path is never touched."""
    body = body if body is not None else template.get("container") or template.get("script") or {}
    notes: list[str] = []
    declared = [pod_path(p) for p in output_paths(template)]
    root = directory / "root"
    paths = {"/tmp": root / "tmp"} | remap(declared + [pod_path(p) for p in input_paths(template)], root)
    paths |= volume_paths(template, body, directory, volumes, config_map)
    for local in {root / "tmp", *(root / Path(p).parts[1] for p in paths if len(Path(p).parts) > 2)}:
        local.mkdir(parents=True, exist_ok=True)
    variables = {
        **variables,
        **{
            f"outputs.parameters.{p['name']}.path": (p.get("valueFrom") or {}).get("path", "")
            for p in parameters(template.get("outputs"))
        },
        **{
            f"outputs.artifacts.{a['name']}.path": a.get("path", "")
            for a in (template.get("outputs") or {}).get("artifacts") or []
        },
    }
    variables = {
        k: rewrite(v, paths) if k.endswith(".path") and isinstance(v, str) else v for k, v in variables.items()
    }
    if staging is not None:
        stage_inputs(template, variables, paths, staging)
    command = [*(body.get("command") or entrypoint(body.get("image", "")) or [])]
    parts = [substitute(rewrite(str(part), paths), variables) for part in [*command, *(body.get("args") or [])]]
    if "source" in body:
        script = directory / "script"
        script.write_text(substitute(rewrite(body["source"], paths), variables), encoding="utf-8")
        script.chmod(0o755)
        parts[len(command) : len(command)] = [str(script)]
    if not parts:
        raise InputError(f"template '{template.get('name')}': nothing to run (no command or args)")
    if "nvidia.com/gpu" in str(body.get("resources") or {}):
        notes.append("GPU request ignored: runs on this machine's CPU")
    working = pod_path(str(body.get("workingDir") or "/"))
    local_working = Path(rewrite(working, paths)) if rewrite(working, paths) != working else root / working.lstrip("/")
    return Process(
        command=interpreter(parts),
        env=environment(body.get("env") or [], variables, notes, paths, config_map),
        directory=local_working,
        timeout=deadline_of(template),
        paths=paths,
        files=[],
        notes=notes,
    )


def container_set(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a containerSet in an order their dependencies allow (one at a time here: a valid
    schedule of the same graph), each with the set's volume mounts."""
    spec = template["containerSet"]
    containers = {
        c["name"]: {**c, "volumeMounts": [*(spec.get("volumeMounts") or []), *(c.get("volumeMounts") or [])]}
        for c in spec.get("containers") or []
    }
    ordered: list[dict[str, Any]] = []
    while len(ordered) < len(containers):
        ready = [
            c
            for name, c in containers.items()
            if c not in ordered and all(d in [o["name"] for o in ordered] for d in c.get("dependencies") or [])
        ]
        if not ready:
            raise InputError(f"template '{template.get('name')}': containerSet dependencies form a cycle")
        ordered.append(ready[0])
    return ordered


def pytorchjob_process(template: dict[str, Any], variables: dict[str, Any], directory: Path) -> Process:
    """A PyTorchJob or TrainJob resource step as torchrun processes on this machine (fmops.argo.local.jobs)."""
    job = jobs.job_command(yaml.safe_load(substitute(template["resource"]["manifest"], variables)))
    unit = "node(s)" if job.kind == "TrainJob" else "replica(s)"
    notes = [f"{job.kind} of {job.processes} {unit} runs as torchrun --nproc_per_node {job.processes} on this machine"]
    command = job.command
    if command[:1] == ["fmops"]:
        command = ["torchrun", "--standalone", "--nproc_per_node", str(job.processes), "-m", "fmops.cli", *command[1:]]
    return Process(
        command=interpreter(command),
        env=environment(job.env, variables, notes),
        directory=directory,
        timeout=deadline_of(template),
        notes=notes,
    )


def execute(process: Process, log: Path, stopping: threading.Event | None = None) -> Outcome:
    """Run to completion (or the deadline); stdout and stderr to `log`, stdout kept as the result."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for file in process.files:
        file.parent.mkdir(parents=True, exist_ok=True)
    process.directory.mkdir(parents=True, exist_ok=True)
    with log.open("ab", buffering=0) as handle:
        handle.write(f"$ {' '.join(process.command)}\n".encode())
        try:
            child = subprocess.Popen(
                process.command,
                stdout=subprocess.PIPE,
                stderr=handle,
                cwd=process.directory,
                env=process.env,
                start_new_session=True,
            )
        except OSError as error:
            return Outcome("Error", None, f"could not start {process.command[0]}: {error}")
        captured = bytearray()

        def pump() -> None:
            assert child.stdout is not None
            for chunk in iter(lambda: child.stdout.read1(65536), b""):
                handle.write(chunk)
                if len(captured) < RESULT_LIMIT * 2:
                    captured.extend(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        end = None if process.timeout is None else time.monotonic() + process.timeout
        try:
            code = None
            while code is None:
                try:
                    code = child.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    if stopping is not None and stopping.is_set():
                        raise KeyboardInterrupt from None
                    if end is not None and time.monotonic() >= end:
                        os.killpg(child.pid, signal.SIGKILL)
                        child.wait()
                        reader.join(timeout=5)
                        return Outcome(
                            "Failed",
                            None,
                            f"Pod was active on the node longer than the specified deadline ({process.timeout:.0f}s)",
                        )
        except BaseException:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
            raise
        reader.join(timeout=5)
    stdout = captured.decode("utf-8", "replace").strip()
    if len(stdout.encode()) > RESULT_LIMIT:
        return Outcome("Error", code, f"outputs.result is larger than Argo's {RESULT_LIMIT // 1024} kB", None)
    if code != 0:
        return Outcome("Failed", code, f"Error (exit code {code})", stdout)
    return Outcome("Succeeded", 0, "", stdout)
