"""`fmops evaluate`'s backend: auto picks lm-eval's vllm model only where vllm is installed and a CUDA GPU is
visible, else hf; an explicit vllm that cannot run is refused. vLLM is not installed here: its presence and
the GPU count are monkeypatched."""

from __future__ import annotations

import importlib.machinery
import importlib.util

import pytest
from fmops.core.errors import InputError
from fmops.evaluation import harness

from tests.unit.evaluation.test_evaluate_inputs import refused

REAL_FIND_SPEC = importlib.util.find_spec


@pytest.fixture
def machine(monkeypatch):
    """machine(vllm_installed, gpus): pretend this process has (or lacks) vllm and sees `gpus` CUDA GPUs."""

    def pretend(vllm_installed: bool, gpus: int) -> None:
        def find_spec(name, *args, **kwargs):
            if name == "vllm":
                return importlib.machinery.ModuleSpec("vllm", None) if vllm_installed else None
            return REAL_FIND_SPEC(name, *args, **kwargs)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)
        monkeypatch.setattr(harness, "cuda_device_count", lambda: gpus)

    return pretend


@pytest.mark.parametrize(
    ("vllm_installed", "gpus", "device", "chosen"),
    [
        (True, 2, None, "vllm"),
        (True, 1, "cuda:0", "vllm"),
        (True, 0, None, "hf"),  # vllm on a machine without a GPU
        (False, 8, None, "hf"),  # a GPU without vllm
        (True, 2, "cpu", "hf"),  # --set device=cpu asks for the CPU
    ],
)
def test_auto_picks_vllm_only_with_the_package_and_a_gpu(machine, vllm_installed, gpus, device, chosen):
    machine(vllm_installed, gpus)
    assert harness.choose_backend("auto", device) == chosen
    assert harness.choose_backend("hf", device) == "hf"


@pytest.mark.parametrize(
    ("vllm_installed", "gpus", "message"),
    [
        (False, 1, "backend vllm: the vllm package is not installed (pip install vllm), or set backend=auto|hf"),
        (True, 0, "backend vllm: no CUDA GPU is visible; set backend=auto|hf to evaluate on the CPU"),
    ],
)
def test_an_explicit_vllm_that_cannot_run_is_refused(machine, vllm_installed, gpus, message):
    machine(vllm_installed, gpus)
    with pytest.raises(InputError) as raised:
        harness.choose_backend("vllm", None)
    assert str(raised.value) == message
    machine(True, 4)
    assert harness.choose_backend("vllm", None) == "vllm"


def test_vllm_model_args_use_every_visible_gpu(machine):
    machine(True, 4)
    settings = harness.Settings(backend="vllm", gpu_memory_utilization=0.8, batch_size=64)
    runs = harness.model_runs({"t": "task"}, "/models/m", None, settings)
    assert runs == [
        (
            "vllm",
            {
                "pretrained": "/models/m",
                "tensor_parallel_size": 4,
                "dtype": "auto",
                "gpu_memory_utilization": 0.8,
                "batch_size": "auto",
            },
            ["task"],
        )
    ]


def test_hf_model_args_are_unchanged(machine):
    machine(True, 4)
    settings = harness.Settings(backend="hf", batch_size=16, device="cpu")
    runs = harness.model_runs({"t": "task"}, "/models/m", None, settings)
    assert runs == [("hf", {"pretrained": "/models/m", "batch_size": 16, "device": "cpu"}, ["task"])]


def test_the_cli_refuses_vllm_without_vllm_and_a_backend_for_an_endpoint(machine, model_dir, tmp_path):
    machine(False, 0)
    out = str(tmp_path / "o")
    expected = "backend vllm: the vllm package is not installed (pip install vllm), or set backend=auto|hf"
    assert refused("--model", str(model_dir), "--set", "backend=vllm", "--output", out) == expected
    expected = "backend hf: applies to --model; an --endpoint is evaluated through its API"
    assert refused("--endpoint", "http://127.0.0.1:1", "--set", "backend=hf", "--output", out) == expected
    assert refused("--model", str(model_dir), "--set", "backend=trt", "--output", out).startswith(
        "--set backend=trt: field 'backend': Input should be 'auto', 'hf' or 'vllm'"
    )
