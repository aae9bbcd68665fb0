"""benchmarks/curate-history-memory-cpu.json: the peak memory of `fmops curate` against a history of 1 and of
8 earlier cycles, on the same new corpus, to show the cross-cycle dedup streams the history's signatures
instead of loading them.

    python benchmarks/curate_history_memory.py [--documents 500] [--cycles 8]

Each earlier cycle is a corpus of its own, curated with --record-history into one history. The peak is the
largest resident set of any process the command ran (datatrove's workers included), from the kernel's
accounting of the finished children.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from curate import corpus, write_shards

ROOT = Path(__file__).resolve().parents[1]


def curate(data: Path, output: Path, history: Path, record: bool = False) -> float:
    """Run one `fmops curate` in a fresh child; its peak resident set in MiB (the largest child so far)."""
    command = [sys.executable, "-m", "fmops", "curate", "--data", str(data), "--output", str(output)]
    command += ["--config", "base", "--history", str(history), *(["--record-history"] if record else [])]
    subprocess.run(command, check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def peak_against(history: Path, work: Path, new: Path, label: str) -> float:
    """Peak MiB of curating `new` against `history`, measured in a process of its own, so the running
    maximum of this process's children does not carry an earlier, larger run's peak."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from curate_history_memory import curate; "
        "print(curate(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "benchmarks"), str(new), str(work / label), str(history)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "curate-history-memory-cpu.json"))
    args = parser.parse_args()
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        history = work / "history"
        new = work / "new"
        write_shards(corpus(args.documents, seed=1000)[0], new)
        for cycle in range(1, args.cycles + 1):
            earlier = work / f"cycle-{cycle}"
            write_shards(corpus(args.documents, seed=cycle)[0], earlier)
            curate(earlier, work / f"cycle-{cycle}-out", history, record=True)
            if cycle in (1, args.cycles):
                peaks[cycle] = round(peak_against(history, work, new, f"new-against-{cycle}"), 1)
                print(f"history of {cycle} cycle(s): peak {peaks[cycle]} MiB", file=sys.stderr)
    result = {
        "benchmark": "fmops curate: peak memory against a growing history",
        "command": f"python benchmarks/curate_history_memory.py --documents {args.documents} --cycles {args.cycles}",
        "device": f"{platform.processor() or platform.machine()} (shared with other jobs; memory, not time)",
        "date": datetime.now(UTC).date().isoformat(),
        "documents_per_cycle": args.documents,
        "peak_rss_mib_by_history_cycles": peaks,
        "growth": round(peaks[args.cycles] / peaks[1] - 1, 3),
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
