"""The datatrove pipelines of one curate run, in three executors over `<output>/work/`:

    filter (one task per shard group)  read -> Gopher/C4 filters -> decontaminate -> redact PII
                                       -> work/filtered/NNNNN.jsonl.gz -> exact and MinHash signatures
    dedup (joins every group)          exact duplicates; MinHash bands against each other and the history;
                                       clusters (one survivor per cluster; a match in the history survives none)
    keep (one task per shard group)    work/filtered -> drop the named duplicates -> documents/NNNNN.jsonl

Imported only after the inputs are checked. datatrove starts its worker processes with forkserver, which
imports the main module again: `fmops` runs its command under a main guard, as that needs.
"""

from __future__ import annotations

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig, ExactFindDedups
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupSignature,
)
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig

from fmops.core import storage
from fmops.curate.config import CurateConfig
from fmops.curate.decontaminate import EvalIndex
from fmops.curate.steps import (
    Decontaminate,
    DropDuplicates,
    ExactSignatures,
    IntermediateReader,
    RedactPII,
    ShardReader,
    curated_record,
    earlier_group_first,
)


def minhash_config(config: CurateConfig) -> MinhashConfig:
    return MinhashConfig(
        n_grams=config.minhash_ngrams,
        num_buckets=config.minhash_buckets,
        hashes_per_bucket=config.minhash_hashes_per_bucket,
        seed=config.minhash_seed,
        hash_config=HashConfig(precision=64),
        norm_config=TextNormConfig(norm_numbers=config.minhash_normalize_numbers),
    )


def text_of(document) -> str:
    return document.text


EXACT = ExactDedupConfig(
    content_getter=text_of, document_priority=earlier_group_first, hash_config=HashConfig(precision=64)
)


class Work:
    """Where a run keeps its intermediate files."""

    def __init__(self, output: str):
        self.root = storage.join(output, "work")
        self.filtered = storage.join(self.root, "filtered")
        self.exact_signatures = storage.join(self.root, "exact", "signatures")
        self.exact = storage.join(self.root, "exact", "duplicates")
        self.signatures = storage.join(self.root, "minhash", "signatures")
        self.minhash = storage.join(self.root, "minhash")
        self.documents = storage.join(output, "documents")

    def logs(self, stage: str) -> str:
        return storage.join(self.root, "logs", stage)


def filter_steps(files: list[str], config: CurateConfig, index: EvalIndex | None, work: Work) -> list:
    steps: list = [ShardReader(files)]
    if config.gopher_repetition:
        steps.append(GopherRepetitionFilter())
    if config.gopher_quality:
        steps.append(GopherQualityFilter())
    if config.c4_quality:
        steps.append(C4QualityFilter())
    if index is not None:
        steps.append(Decontaminate(index))
    if config.pii:
        steps.append(RedactPII())
    steps.append(JsonlWriter(work.filtered, output_filename="${rank}.jsonl.gz", compression="gzip"))
    if config.exact_dedup:
        steps.append(ExactSignatures(work.exact_signatures, config=EXACT))
    if config.near_dedup:
        steps.append(MinhashDedupSignature(work.signatures, config=minhash_config(config)))
    return steps


def filter_executor(files, config, index, work: Work, tasks: int, workers: int, rank: int | None = None):
    """The filter stage: every task here, or only `rank` (one pod of the fan-out)."""
    options = {} if rank is None else {"local_tasks": 1, "local_rank_offset": rank}
    return LocalPipelineExecutor(
        filter_steps(files, config, index, work),
        tasks=tasks,
        workers=1 if rank is not None else workers,
        logging_dir=work.logs("filter"),
        **options,
    )


def dedup_executors(config: CurateConfig, work: Work, history: str | None, workers: int) -> list:
    """Exact duplicates (one task), then MinHash bands (one task per band) and clusters (one task)."""
    executors = []
    if config.exact_dedup:
        find = ExactFindDedups(work.exact_signatures, work.exact, config=EXACT)
        executors.append(LocalPipelineExecutor([find], tasks=1, workers=1, logging_dir=work.logs("exact")))
    if config.near_dedup:
        minhash = minhash_config(config)
        pairs = storage.join(work.minhash, "pairs")
        buckets = MinhashDedupBuckets(
            work.signatures, pairs, index_folder=history, config=minhash, only_dedup_in_index=False
        )
        cluster = MinhashDedupCluster(pairs, storage.join(work.minhash, "remove"), config=minhash)
        executors.append(
            LocalPipelineExecutor(
                [buckets], tasks=config.minhash_buckets, workers=workers, logging_dir=work.logs("buckets")
            )
        )
        executors.append(LocalPipelineExecutor([cluster], tasks=1, workers=1, logging_dir=work.logs("cluster")))
    return executors


def keep_executor(config: CurateConfig, work: Work, tasks: int, workers: int):
    signer = MinhashDedupSignature(work.signatures, config=minhash_config(config)) if config.near_dedup else None
    steps = [
        IntermediateReader(work.filtered),
        DropDuplicates(work.exact if config.exact_dedup else None, work.minhash if config.near_dedup else None, signer),
        JsonlWriter(work.documents, output_filename="${rank}.jsonl", compression=None, adapter=curated_record),
    ]
    return LocalPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=work.logs("keep"))
