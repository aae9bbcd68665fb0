"""The curate stage's settings: which blocks run and their thresholds. Recipes: python/fmops/recipes/curate/."""

from __future__ import annotations

from pydantic import Field

from fmops.core.config import StageConfig


class CurateConfig(StageConfig):
    """Defaults are the general-purpose recipe (`base`); `demo` turns off what the demo's short sums fail."""

    exact_dedup: bool = Field(True, description="drop documents whose whole text repeats an earlier one")
    near_dedup: bool = Field(True, description="MinHash near-dedup, within the input and against --history")
    minhash_ngrams: int = Field(
        3, ge=1, le=32, description="words per MinHash shingle: small enough that a 10% edit leaves most intact"
    )
    minhash_buckets: int = Field(20, ge=1, le=256, description="LSH bands: a pair is a duplicate if any band matches")
    minhash_hashes_per_bucket: int = Field(3, ge=1, le=64, description="hashes per band (rows)")
    minhash_seed: int = Field(1, ge=0, description="seed of the hash functions; history written with another is void")
    minhash_normalize_numbers: bool = Field(
        True, description="shingle numbers as one token (datatrove's default): '2024' and '1999' look alike"
    )
    gopher_repetition: bool = Field(True, description="datatrove's GopherRepetitionFilter, published thresholds")
    gopher_quality: bool = Field(True, description="datatrove's GopherQualityFilter, published thresholds")
    c4_quality: bool = Field(True, description="datatrove's C4QualityFilter (line-level), published thresholds")
    pii: bool = Field(True, description="redact email addresses and public IP addresses (the document is kept)")
    decontaminate: bool = Field(True, description="drop documents that share an n-gram with an evaluation item")
    decontaminate_ngrams: int = Field(
        13, ge=1, le=64, description="tokens per n-gram; an item shorter than this counts when it occurs whole"
    )
    decontaminate_min_tokens: int = Field(
        5, ge=1, description="evaluation strings of fewer tokens (a label, a one-word choice) are not matched"
    )
    shard_groups: int = Field(
        0, ge=0, description="tasks the input files are dealt into (round robin); 0: one per file, at most 64"
    )
    workers: int = Field(0, ge=0, description="processes on this machine; 0: one per CPU core")

    @property
    def minhash_hashes(self) -> int:
        return self.minhash_buckets * self.minhash_hashes_per_bucket
