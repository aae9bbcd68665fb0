"""`torchrun -m fmops.cli allreduce`, the way the validate-cluster template starts it: two gloo processes on
CPU, rank 0 alone writes the metrics and the manifest."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_allreduce_across_two_processes(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "fmops.cli",
            "allreduce",
            "--size-mb",
            "1",
            "--iters",
            "3",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("{")]
    printed = json.loads(line)
    assert (printed["backend"], printed["world_size"], printed["size_mb"]) == ("gloo", 2, 1.0)
    assert printed["busbw_gbps"] == pytest.approx(printed["algbw_gbps"])  # 2 (n - 1) / n = 1 for n = 2
    assert json.loads((out / "metrics.json").read_text()) == printed
    written = json.loads((out / "manifest.json").read_text())
    assert written["stage"] == "allreduce"
    assert written["config"] == {"size_mb": 1.0, "iters": 3, "output": str(out), "world_size": 2}
