"""benchmarks/curate-cpu.json: `fmops curate` on a synthetic corpus with planted duplicates, PII and evaluation
copies, against a plain datatrove pipeline of the same blocks and thresholds, on the same corpus and machine.

    python benchmarks/curate.py [--documents 3000] [--output benchmarks/curate-cpu.json]

The corpus: prose-like documents (stop words and invented words, sentences a line) that pass the Gopher and C4
filters; near duplicates of some with 2, 5 or 10% of their words substituted; exact copies; documents with an
email and a public IP planted; documents with a demo evaluation item copied in. Measured: near-dup precision and
recall, PII and contamination recall, documents/s and MB/s per core of both pipelines, and the cost of a history
of one earlier cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOP = "the of and to a in is that it was for on are as with his they at be this from have or by".split()
RATES = (0.02, 0.05, 0.10)


def invented_words(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice("abcdefghijklmnoprstuvwy") for _ in range(rng.randint(3, 9))) for _ in range(count)]


def document(rng: random.Random, vocabulary: list[str]) -> list[str]:
    """A document as its words, sentences ending in '.', about 150 words on 8-12 lines."""
    words = []
    for _ in range(rng.randint(8, 12)):
        sentence = [rng.choice(STOP) if rng.random() < 0.35 else rng.choice(vocabulary) for _ in range(14)]
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += ".\n"
        words.extend(sentence)
    return words


def text(words: list[str]) -> str:
    return " ".join(words).replace("\n ", "\n").strip()


def substitute(rng: random.Random, words: list[str], rate: float, vocabulary: list[str]) -> list[str]:
    copy = list(words)
    for i in rng.sample(range(len(copy)), round(rate * len(copy))):
        end = "\n" if copy[i].endswith("\n") else ""
        copy[i] = rng.choice(vocabulary) + (".\n" if end else "")
    return copy


def corpus(count: int, seed: int = 0) -> tuple[list[dict], dict]:
    """Records (text, id, kind, of) and what was planted."""
    rng = random.Random(seed)
    vocabulary = invented_words(rng, 20000)
    evals = [json.loads(line) for line in (ROOT / "python/fmops/data/demo/eval/addition.jsonl").open()]
    base = [document(rng, vocabulary) for _ in range(count)]
    records = [{"text": text(words), "id": f"base-{i}", "kind": "base"} for i, words in enumerate(base)]
    near = rng.sample(range(count), count // 10)
    for n, i in enumerate(near):
        rate = RATES[n % len(RATES)]
        copy = substitute(rng, base[i], rate, vocabulary)
        records.append({"text": text(copy), "id": f"near-{i}", "kind": f"near-{rate}", "of": f"base-{i}"})
    for i in rng.sample(range(count), count // 20):
        records.append({"text": records[i]["text"], "id": f"exact-{i}", "kind": "exact", "of": f"base-{i}"})
    pii = {}
    for n, i in enumerate(rng.sample(range(count), count // 20)):
        email, ip = f"person{n}@mail{n}.com", f"{rng.randint(11, 99)}.{n % 250 + 1}.{rng.randint(1, 250)}.7"
        words = list(base[i])
        words[3:3] = ["write", "to", email, "from", ip]
        records[i]["text"] = text(words)
        pii[records[i]["id"]] = [email, ip]
    contaminated = []
    for n, i in enumerate(rng.sample(range(count), count // 50)):
        item = evals[n]
        records[i]["text"] += f"\nQuiz: {item['question']} {item['answer']}."
        contaminated.append(records[i]["id"])
    rng.shuffle(records)
    return records, {"pii": pii, "contaminated": contaminated}


def write_shards(records: list[dict], folder: Path, shards: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with (folder / f"shard-{s}.jsonl").open("w") as handle:
            for record in records[s::shards]:
                handle.write(json.dumps(record) + "\n")


def kept_records(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*.jsonl")) for line in path.open()]


def quality(records: list[dict], kept: list[dict], planted: dict) -> dict:
    ids = {r["id"] for r in kept}
    by_id = {r["id"]: r for r in records}
    removed = {r["id"] for r in records} - ids
    contaminated = set(planted["contaminated"])
    # a pair (original, copy) is caught when at most one of the two is kept
    pairs = [(r["of"], r["id"], r["kind"]) for r in records if r["kind"].startswith("near")]
    caught = {rate: [] for rate in RATES}
    for original, copy, kind in pairs:
        if original in contaminated or copy in contaminated:
            continue
        caught[float(kind.split("-")[1])].append(not (original in ids and copy in ids))
    twins = {r["of"] for r in records if "of" in r}
    wrongly = [i for i in removed if by_id[i]["kind"] == "base" and i not in twins and i not in contaminated]
    dedup_removed = [i for i in removed if i not in contaminated]
    kept_text = {r["id"]: r["text"] for r in kept}
    leaked = [s for i, strings in planted["pii"].items() if i in kept_text for s in strings if s in kept_text[i]]
    return {
        "near_dup_recall": round(sum(sum(v) for v in caught.values()) / sum(len(v) for v in caught.values()), 4),
        "near_dup_recall_by_rate": {str(rate): round(sum(v) / len(v), 4) for rate, v in caught.items()},
        "near_dup_precision": round(1 - len(wrongly) / max(1, len(dedup_removed)), 4),
        "pii_planted": 2 * len(planted["pii"]),
        "pii_redacted_recall": round(1 - len(leaked) / (2 * len(planted["pii"])), 4),
        "contamination_recall": round(len(contaminated - ids) / len(contaminated), 4),
        "documents_kept": len(kept),
    }


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "curate-cpu.json"))
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    records, planted = corpus(args.documents)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_shards(records, work / "data")
        size = sum(p.stat().st_size for p in (work / "data").glob("*.jsonl"))
        fmops = [sys.executable, "-m", "fmops", "curate", "--data", str(work / "data"), "--config", "base"]
        plain_seconds = timed(
            [sys.executable, str(ROOT / "benchmarks" / "curate_plain.py"), str(work / "data"), str(work / "plain")]
        )
        fmops_seconds = timed([*fmops, "--output", str(work / "fmops")])
        # the same corpus again against a history holding one earlier cycle (a different corpus)
        write_shards(corpus(args.documents, seed=1)[0], work / "earlier")
        history = str(work / "history")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fmops",
                "curate",
                "--data",
                str(work / "earlier"),
                "--config",
                "base",
                "--output",
                str(work / "earlier-out"),
                "--history",
                history,
                "--record-history",
            ],
            check=True,
            capture_output=True,
        )
        history_seconds = timed([*fmops, "--output", str(work / "fmops-history"), "--history", history])
        fmops_quality = quality(records, kept_records(work / "fmops" / "documents"), planted)
        plain_quality = quality(records, kept_records(work / "plain" / "documents"), planted)
        metrics = json.loads((work / "fmops" / "metrics.json").read_text())
    mb = size / 1e6
    result = {
        "device": f"{platform.processor() or platform.machine()}, {cores} cores (shared with other jobs)",
        "date": datetime.now(UTC).date().isoformat(),
        "corpus": {"documents": len(records), "megabytes": round(mb, 3), "shards": 4, "near_dup_rates": RATES},
        "fmops": {
            **fmops_quality,
            "seconds": round(fmops_seconds, 2),
            "documents_per_s_per_core": round(len(records) / fmops_seconds / cores, 1),
            "mb_per_s_per_core": round(mb / fmops_seconds / cores, 4),
            "removed": metrics["removed"],
        },
        "fmops_with_history_of_one_cycle": {"seconds": round(history_seconds, 2)},
        "plain_datatrove": {
            **plain_quality,
            "seconds": round(plain_seconds, 2),
            "documents_per_s_per_core": round(len(records) / plain_seconds / cores, 1),
            "mb_per_s_per_core": round(mb / plain_seconds / cores, 4),
        },
        "throughput_ratio_fmops_to_plain": round(plain_seconds / fmops_seconds, 3),
        "history_cost": round(history_seconds / fmops_seconds - 1, 3),
        "note": "wall time of the whole command, process start and imports included; the plain pipeline has no "
        "decontamination block (datatrove's needs lighteval and the hub)",
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
