"""Measure `fmops run` (the demo lifecycle) and record the wall time of every phase.

    python benchmarks/pipeline.py                              # runs fmops run in a temporary directory
    python benchmarks/pipeline.py RUN_DIR                      # reads an existing run's run.json instead
    python benchmarks/pipeline.py --against 3a2ecf0 --rounds 2 # this checkout against an earlier commit
    python benchmarks/pipeline.py --engines --rounds 1         # the local deploy on transformers, then vLLM

Writes benchmarks/pipeline-cpu.json: device, date, versions, total and per-step seconds, and the held-out
evaluation of each model, so the gain of every phase is on record. Fields it does not measure (`previous`,
`note`: history kept by hand) are carried over from the file it replaces.

`--against COMMIT` checks the commit out into a temporary git worktree and runs it and this checkout in turn,
`--rounds` times each (earlier commit first), in this environment (the earlier code is put first on
PYTHONPATH, so its own workflows/ run): both see the same machine load, so their ratio holds where absolute
seconds drift. The `comparison` field records every run's seconds and the ratio of the medians.

`--engines` runs this checkout alternately with `-p serving-engine=transformers` and `vllm` (the vLLM
environment must exist: `fmops serve --engine vllm` creates it) and records, under `engines`, each run's total
and deploy-step seconds and what vLLM adds to the lifecycle (difference of the medians).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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


def run_pipeline(run_dir: Path, code: Path | None = None, *parameters: str) -> Path:
    """`fmops run` into `run_dir`, from this checkout or (code) from another checkout's python/ directory."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code / "python"), env.get("PYTHONPATH")]))
    options = [arg for parameter in parameters for arg in ("-p", parameter)]
    subprocess.run([sys.executable, "-m", "fmops", "run", "--workdir", str(run_dir), *options], check=True, env=env)
    return run_dir


def compare_engines(rounds: int, scratch: Path) -> tuple[dict, Path]:
    """Alternate runs with each local serving engine; returns the comparison and the last transformers run."""
    runs: dict[str, list[dict]] = {"transformers": [], "vllm": []}
    for index in range(rounds):
        for engine in runs:
            run_dir = run_pipeline(scratch / f"{engine}-{index}", None, f"serving-engine={engine}")
            measured = measure(run_dir)
            runs[engine].append({"total_s": measured["total_s"], "deploy_s": measured["steps_s"]["pipeline/deploy"]})
            print(f"round {index + 1}/{rounds} {engine}: {measured['total_s']} s", file=sys.stderr)
    medians = {engine: statistics.median(run["total_s"] for run in values) for engine, values in runs.items()}
    comparison = {
        "order": "alternated, transformers first in each round",
        "runs": runs,
        "median_s": medians,
        "vllm_adds_s": round(medians["vllm"] - medians["transformers"], 1),
        "target_adds_s": 40,
    }
    return comparison, scratch / f"transformers-{rounds - 1}"


def compare(against: str, rounds: int, scratch: Path) -> tuple[dict, Path]:
    """Alternate runs of `against` and of this checkout; returns the comparison and this checkout's last run."""
    earlier = scratch / "earlier"
    subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "--detach", str(earlier), against], check=True)
    seconds: dict[str, list[float]] = {"against": [], "this": []}
    try:
        for index in range(rounds):
            for side, code in (("against", earlier), ("this", None)):
                run_dir = run_pipeline(scratch / f"{side}-{index}", code)
                seconds[side].append(measure(run_dir)["total_s"])
                print(f"round {index + 1}/{rounds} {side}: {seconds[side][-1]} s", file=sys.stderr)
        commit = subprocess.run(
            ["git", "-C", str(earlier), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
    finally:
        subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(earlier)], check=False)
    medians = {side: statistics.median(values) for side, values in seconds.items()}
    comparison = {
        "against": commit,
        "order": "alternated, the earlier commit first in each round",
        "total_s": seconds,
        "median_s": medians,
        "ratio": round(medians["this"] / medians["against"], 3),
    }
    return comparison, run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", nargs="?", type=Path, help="read this existing run instead of running")
    parser.add_argument("--against", help="an earlier commit to run alternately with this checkout")
    parser.add_argument("--engines", action="store_true", help="the local deploy on transformers, then on vLLM")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side with --against or --engines")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fmops-bench-"))
    comparison = engines = None
    if args.run_dir:
        run_dir = args.run_dir
    elif args.engines:
        engines, run_dir = compare_engines(args.rounds, scratch)
    elif args.against:
        comparison, run_dir = compare(args.against, args.rounds, scratch)
    else:
        run_dir = run_pipeline(scratch / "run")
    record = HERE / "pipeline-cpu.json"
    measured = measure(run_dir)
    if comparison:
        measured["comparison"] = comparison
    if engines:
        measured["engines"] = engines
    result = {**measured, **carried_over(record, measured)}
    record.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
