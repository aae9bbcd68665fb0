"""Measure `fmops run` (the demo lifecycle) and record the wall time of every phase.

    python benchmarks/pipeline.py            # runs fmops run in a temporary directory
    python benchmarks/pipeline.py RUN_DIR    # reads an existing run's run.json instead

Writes benchmarks/pipeline-cpu.json: device, date, versions, total and per-step seconds, and the held-out
evaluation of each model, so the gain of every phase is on record. Fields it does not measure (`previous`,
`note`: history kept by hand) are carried over from the file it replaces.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(run_dir: Path) -> dict:
    state = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    nodes = state["nodes"]
    root = nodes["pipeline"]
    steps = {
        k: round(v["finished"] - v["started"], 1)
        for k, v in nodes.items()
        if v.get("started") and v.get("finished") and v.get("leaf")
    }
    evaluations = {}
    for node_id, node in nodes.items():
        metrics = node.get("outputs", {}).get("metrics", "")
        if node_id.startswith("pipeline/evaluate-") and metrics:
            values = json.loads(metrics)
            evaluations[node_id.split("/")[1]] = {
                f"{task}/{name}": entry["value"] for task, ms in values.items() for name, entry in ms.items()
            }
    return {
        "benchmark": "fmops run: the whole demo lifecycle from workflows/*.yaml on the tiny model",
        "device": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), no GPU",
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),
        "date": datetime.now(UTC).date().isoformat(),
        "versions": {name: version(name) for name in ("fmops", "torch", "transformers", "trl", "lm-eval")},
        "status": root["phase"],
        "total_s": round(root["finished"] - root["started"], 1),
        "target_s": 200,
        "steps_s": steps,
        "evaluations": evaluations,
    }


def carried_over(path: Path, measured: dict) -> dict:
    """The fields of the existing record that a measurement does not produce."""
    if not path.exists():
        return {}
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if k not in measured}


def main() -> int:
    if len(sys.argv) > 1:
        run_dir = Path(sys.argv[1])
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="fmops-bench-")) / "run"
        subprocess.run([sys.executable, "-m", "fmops", "run", "--workdir", str(run_dir)], check=True)
    record = HERE / "pipeline-cpu.json"
    measured = measure(run_dir)
    result = {**measured, **carried_over(record, measured)}
    record.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
