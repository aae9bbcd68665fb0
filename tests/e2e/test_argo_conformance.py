"""Argo's own example workflows through `fmops run`: each Workflow Argo's e2e suite submits (no
`workflows.argoproj.io/no-test` label) must end Succeeded here, or be refused before any step runs with the
reason listed below, or need software only its image carries (listed too). A newly supported feature shows up
as a refused example that now runs: move it out of REFUSED."""

import contextlib
import io
import os
import shutil
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from fmops.argo.local.runner import RunOptions, run_workflow
from fmops.core.errors import InputError

from tests.helpers import shared_dir

pytestmark = pytest.mark.slow

# example file -> the start of the one-line refusal
REFUSED = {
    "daemon-nginx.yaml": "field 'daemon'",
    "daemon-step.yaml": "field 'daemon'",
    "variables-showcase.yaml": "field 'daemon'",
    "http-hello-world.yaml": "field 'http'",
    "life-cycle-hooks-tmpl-level.yaml": "hook 'running' (only the exit hook runs locally)",
    "life-cycle-hooks-wf-level.yaml": "spec.hooks.running (only the exit hook runs locally)",
    "k8s-owner-reference.yaml": "resource template creating a Workflow",
    "k8s-patch-json-pod.yaml": "resource template creating a resource",
    "k8s-patch-merge-pod.yaml": "resource template creating a resource",
    "k8s-patch-pod.yaml": "resource template creating a Pod",
    "sidecar-nginx.yaml": "field 'sidecars'",
    "sidecar.yaml": "field 'sidecars'",
    "pod-resources-template-override.yaml": "field 'sidecars'",
    "init-container.yaml": "field 'initContainers'",
    "memoize-simple.yaml": "field 'memoize'",
}
# example file -> what only its pod or image has; it runs here and does not succeed
NEEDS_IMAGE = {
    "volumes-emptydir.yaml": "greps /proc/mounts for its volume: a pod's own mount table, not a local directory",
}

STAND_INS = {
    # argoproj/argosay: `argosay echo [MESSAGE [FILE]]`, `argosay exit CODE`, `argosay sleep SECONDS`
    "argosay": """#!/bin/sh
case "$1" in
  echo) shift
    if [ $# -ge 2 ]; then mkdir -p "$(dirname "$2")"; printf '%s\\n' "$1" > "$2"; else echo "${1:-hello argo}"; fi ;;
  exit) exit "${2:-0}" ;;
  sleep) sleep "${2:-1}" ;;
  cat) cat "$2" ;;
  assert_contains) grep -q "$3" "$2" ;;
  "") echo "hello argo" ;;
  *) echo "$@" ;;
esac
""",
    # docker/whalesay's cowsay: the message, without the whale
    "cowsay": '#!/bin/sh\necho "$@"\n',
}


def workflows(root: Path) -> list[str]:
    found = []
    for file in sorted(root.rglob("*.yaml")):
        for manifest in yaml.safe_load_all(file.read_text()):
            labels = ((manifest or {}).get("metadata") or {}).get("labels") or {}
            if (manifest or {}).get("kind") == "Workflow" and "workflows.argoproj.io/no-test" not in labels:
                found.append(str(file.relative_to(root)))
                break
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """The examples, and a directory with what Argo's e2e suite applies first: the WorkflowTemplates,
    ClusterWorkflowTemplates and ConfigMaps of the corpus."""
    root = shared_dir("argo-examples")
    applied = tmp_path_factory.mktemp("applied")
    for file in root.rglob("*.yaml"):
        kinds = {(m or {}).get("kind") for m in yaml.safe_load_all(file.read_text())}
        if kinds & {"WorkflowTemplate", "ClusterWorkflowTemplate", "ConfigMap"} and "Workflow" not in kinds:
            shutil.copy(file, applied / str(file.relative_to(root)).replace("/", "__"))
    bin_dir = tmp_path_factory.mktemp("bin")
    for name, text in STAND_INS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    yield root, applied
    os.environ["PATH"] = path


def outcome(root: Path, applied: Path, example: str, work: Path) -> str:
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            result = run_workflow(RunOptions(template=str(root / example), workflows=applied, workdir=work))
        except InputError as error:
            return f"refused: {error}"
    failed = [f"{n.id}: {n.message}" for n in result.nodes if n.phase in ("Failed", "Error")]
    return result.phase if result.succeeded else f"{result.phase}: {'; '.join(failed)[:300]}"


def test_argo_examples_end_as_argo_says(corpus, tmp_path: Path):
    root, applied = corpus
    examples = workflows(root)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda e: outcome(root, applied, e, tmp_path / e.replace("/", "__")), examples)
        outcomes = dict(zip(examples, results, strict=True))
    wrong = {}
    for example, result in outcomes.items():
        if example in REFUSED:
            if not (result.startswith("refused: cannot run faithfully") and REFUSED[example] in result):
                wrong[example] = f"expected the refusal {REFUSED[example]!r}, got {result}"
        elif example in NEEDS_IMAGE:
            if result == "Succeeded" or result.startswith("refused:"):
                wrong[example] = f"listed as needing its image ({NEEDS_IMAGE[example]}), got {result}"
        elif result != "Succeeded":
            wrong[example] = result
    succeeded = sum(result == "Succeeded" for result in outcomes.values())
    print(f"{succeeded} Succeeded, {len(REFUSED)} refused, {len(NEEDS_IMAGE)} need their image, of {len(examples)}")
    assert wrong == {}
    assert set(REFUSED) | set(NEEDS_IMAGE) <= set(examples)
    assert succeeded >= 0.8 * len(examples)
