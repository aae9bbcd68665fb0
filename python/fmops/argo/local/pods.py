"""Run one container, script or PyTorchJob template as local processes, the way its pod would run.

Local overrides (documented in the README):
- the image is not pulled: the command runs in this Python environment (`fmops` and `python` resolve to
  the interpreter running `fmops run`); GPU requests, node selectors and tolerations are ignored;
- output paths (valueFrom.path, artifact paths) and their directories are remapped into the step's own
  directory, in the command and args too, so a step writing /tmp/fmops/results/x writes <step>/outputs/...;
- env from a Secret is read from the local environment variable of the same name (left unset if optional);
- a PyTorchJob with N replicas runs as `torchrun --standalone --nproc_per_node N` over its Master container;
- activeDeadlineSeconds becomes the process's time limit.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import parameters
from fmops.argo.local.expressions import substitute
from fmops.core.errors import InputError


@dataclass
class Process:
    command: list[str]
    env: dict[str, str]
    directory: Path
    timeout: float | None
    paths: dict[str, Path] = field(default_factory=dict)  # output path or its directory -> local path
    files: list[Path] = field(default_factory=list)  # where the declared output files will be written
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    phase: str  # Succeeded | Failed | Error
    exit_code: int | None = None
    message: str = ""


def output_paths(template: dict[str, Any]) -> list[str]:
    outputs = template.get("outputs") or {}
    paths = [(p.get("valueFrom") or {}).get("path") for p in parameters(outputs)]
    paths += [a.get("path") for a in outputs.get("artifacts") or []]
    return [p for p in paths if p]


def remap(paths: list[str], directory: Path) -> dict[str, Path]:
    """Each output path and its directory, mapped under <directory>/outputs/."""
    mapped: dict[str, Path] = {}
    for path in paths:
        for candidate in (path, str(Path(path).parent)):
            if candidate not in ("/", "."):
                mapped[candidate] = directory / "outputs" / candidate.lstrip("/")
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
    if head in ("python", "python3"):
        return [sys.executable, *rest]
    if head == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", *rest]
    return command


def environment(env: list[dict[str, Any]], variables: dict[str, str], notes: list[str]) -> dict[str, str]:
    result = dict(os.environ)
    for entry in env:
        name = entry["name"]
        if "value" in entry:
            result[name] = substitute(str(entry["value"]), variables)
            continue
        secret = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
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


def container_process(template: dict[str, Any], variables: dict[str, str], directory: Path) -> Process:
    body = template.get("container") or template.get("script") or {}
    notes: list[str] = []
    declared = output_paths(template)
    paths = remap(declared, directory)
    command = [rewrite(substitute(str(part), variables), paths) for part in
               [*(body.get("command") or []), *(body.get("args") or [])]]  # fmt: skip
    if "source" in body:
        script = directory / "script"
        script.write_text(substitute(body["source"], variables), encoding="utf-8")
        command.append(str(script))
    if "nvidia.com/gpu" in str(body.get("resources") or {}):
        notes.append("GPU request ignored: runs on this machine's CPU")
    return Process(
        command=interpreter(command),
        env=environment(body.get("env") or [], variables, notes),
        directory=directory,
        timeout=deadline_of(template),
        paths=paths,
        files=[paths[path] for path in declared],
        notes=notes,
    )


def pytorchjob_process(template: dict[str, Any], variables: dict[str, str], directory: Path) -> Process:
    manifest = yaml.safe_load(substitute(template["resource"]["manifest"], variables))
    replicas = manifest["spec"]["pytorchReplicaSpecs"]
    processes = sum(int(spec.get("replicas", 1)) for spec in replicas.values())
    container = replicas["Master"]["template"]["spec"]["containers"][0]
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    notes = [f"PyTorchJob of {processes} replica(s) runs as torchrun --nproc_per_node {processes} on this machine"]
    if command[0] == "fmops":
        command = ["torchrun", "--standalone", "--nproc_per_node", str(processes), "-m", "fmops.cli", *command[1:]]
    return Process(
        command=interpreter(command),
        env=environment(container.get("env") or [], variables, notes),
        directory=directory,
        timeout=deadline_of(template),
        notes=notes,
    )


def execute(process: Process, log: Path) -> Outcome:
    """Run to completion (or the deadline), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    for file in process.files:
        file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        handle.write(f"$ {' '.join(process.command)}\n".encode())
        handle.flush()
        try:
            child = subprocess.Popen(
                process.command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=process.directory,
                env=process.env,
                start_new_session=True,
            )
        except OSError as error:
            return Outcome("Error", None, f"could not start {process.command[0]}: {error}")
        try:
            code = child.wait(timeout=process.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return Outcome("Failed", None, f"activeDeadlineSeconds ({process.timeout:.0f}s) exceeded")
        except BaseException:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
            raise
    if code != 0:
        return Outcome("Failed", code, f"exit status {code}")
    return Outcome("Succeeded", 0)


def read_outputs(template: dict[str, Any], process: Process, artifacts_dir: Path) -> dict[str, str]:
    """Output parameters from their files; artifacts copied beside the run. Missing ones are errors."""
    outputs = template.get("outputs") or {}
    values: dict[str, str] = {}
    for parameter in parameters(outputs):
        source = (parameter.get("valueFrom") or {}).get("path")
        if not source:
            continue
        local = process.paths[source]
        if local.is_file():
            values[parameter["name"]] = local.read_text(encoding="utf-8").rstrip("\n")
        elif "default" in (parameter.get("valueFrom") or {}):
            values[parameter["name"]] = str(parameter["valueFrom"]["default"])
        else:
            raise InputError(f"output parameter '{parameter['name']}': {source} was not written")
    for artifact in outputs.get("artifacts") or []:
        local = process.paths.get(artifact.get("path", ""))
        if local is not None and local.exists():
            artifacts_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(local, artifacts_dir / f"{artifact['name']}{local.suffix}")
        elif not artifact.get("optional"):
            raise InputError(f"output artifact '{artifact['name']}': {artifact.get('path')} was not written")
    return values
