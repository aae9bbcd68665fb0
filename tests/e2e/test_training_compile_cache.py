"""torch.compile on a CPU keeps one inductor cache per ATen kernel set: a process under another
ATEN_CPU_CAPABILITY that shares the cache folder compiles its own kernels instead of loading the others'
(which gave NaN losses or a corrupted heap with torch 2.13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow

ONE_STEP = """
import json, torch
from fmops.models import tiny
from fmops.training import speed
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(vocab_size=512, **tiny.TINY_CONFIG))
ids = torch.randint(0, 512, (4, 32), generator=torch.Generator().manual_seed(0))
eager = model(input_ids=ids, labels=ids).loss.item()
speed.compile_in_place(model, "blocks", torch.device("cpu"))
loss = model(input_ids=ids, labels=ids).loss
loss.backward()
grads = all(p.grad is None or torch.isfinite(p.grad).all().item() for p in model.parameters())
print(json.dumps({"eager": eager, "compiled": loss.item(), "finite_grads": grads,
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def one_compiled_step(cache: str, capability: str | None) -> dict:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    result = subprocess.run([sys.executable, "-c", ONE_STEP], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() == "DEFAULT", reason="this CPU has only ATen's default kernels"
)
def test_a_second_kernel_set_compiles_its_own_kernels(tmp_path):
    cache = str(tmp_path / "inductor")
    native = one_compiled_step(cache, None)
    generic = one_compiled_step(cache, "default")
    assert generic["capability"] == "DEFAULT" != native["capability"]
    for run in (native, generic):
        assert run["finite_grads"]
        assert run["compiled"] == pytest.approx(run["eager"], rel=1e-5)
    assert sorted(p.name for p in (tmp_path / "inductor").iterdir()) == sorted(
        f"cpu-{run['capability'].lower()}" for run in (native, generic)
    )
