"""The baseline of benchmarks/curate.py: datatrove alone, the blocks and thresholds `fmops curate --config base`
uses (Gopher repetition and quality, C4 quality, PII, MinHash 3-word shingles in 20 bands of 3, 64-bit hashes,
exact duplicates caught by MinHash), assembled here without fmops.

    python benchmarks/curate_plain.py INPUT_DIR OUTPUT_DIR
"""

import os
import sys

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.formatters import PIIFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig


def main(source: str, out: str) -> None:
    cores = len(os.sched_getaffinity(0))
    minhash = MinhashConfig(n_grams=3, num_buckets=20, hashes_per_bucket=3, hash_config=HashConfig(precision=64))
    shards = len([name for name in os.listdir(source) if name.endswith(".jsonl")])
    first = [
        JsonlReader(source, glob_pattern="*.jsonl"),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),
        PIIFormatter(),
        JsonlWriter(f"{out}/filtered", output_filename="${rank}.jsonl.gz"),
        MinhashDedupSignature(f"{out}/signatures", config=minhash),
    ]
    LocalPipelineExecutor(first, tasks=shards, workers=cores, logging_dir=f"{out}/logs/1").run()
    buckets = MinhashDedupBuckets(f"{out}/signatures", f"{out}/pairs", config=minhash)
    LocalPipelineExecutor([buckets], tasks=minhash.num_buckets, workers=cores, logging_dir=f"{out}/logs/2").run()
    cluster = MinhashDedupCluster(f"{out}/pairs", f"{out}/remove", config=minhash)
    LocalPipelineExecutor([cluster], tasks=1, logging_dir=f"{out}/logs/3").run()
    last = [
        JsonlReader(f"{out}/filtered", glob_pattern="*.jsonl.gz"),
        MinhashDedupFilter(f"{out}/remove"),
        JsonlWriter(f"{out}/documents", output_filename="${rank}.jsonl", compression=None, expand_metadata=True),
    ]
    LocalPipelineExecutor(last, tasks=shards, workers=cores, logging_dir=f"{out}/logs/4").run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
