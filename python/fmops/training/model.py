"""The model a pretraining run starts from: `tiny` (built here), or anything fmops.models.loading loads.

`check()` runs before torch is imported. `load()` builds or loads the model in fp32 (mixed precision is
applied by accelerate) and its tokenizer, which always carries a chat template (fmops.models.loading's rule).
`tiny` trains its BPE tokenizer on the training text plus a few ChatML renderings, so chat prompts of later
stages (SFT, serving) tokenize into the same merges.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fmops.models import loading, tiny

TINY = tiny.NAME
# Rendered through the chat template and added to the tiny tokenizer's training text.
CHAT_SAMPLES = [
    [{"role": "user", "content": "What is 12+34?"}, {"role": "assistant", "content": "46"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello"}],
]


def check(uri: str) -> str:
    """The model to start from (pointers resolved; `tiny` as is); raises InputError when unusable."""
    return uri if uri == TINY else loading.check(uri)


def tiny_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    template = tiny.build_tokenizer(["placeholder"], vocab_size=300)  # only to render the samples
    samples = [template.apply_chat_template(m, tokenize=False) for m in CHAT_SAMPLES]
    return tiny.build_tokenizer([*texts, *samples], vocab_size=vocab_size)


def load(
    uri: str,
    texts: list[str],
    *,
    seed: int,
    vocab_size: int,
    resume: Path | None = None,
    tokenizer_dir: Path | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer). On resume the tokenizer is the one saved in the checkpoint, never retrained; a tiny
    model on token shards takes the tokenizer saved with them (`tokenizer_dir`)."""
    import torch
    from transformers import AutoTokenizer

    if uri != TINY:
        return loading.load(uri, dtype=torch.float32, chat_tokens=False)
    if resume is not None or tokenizer_dir is not None:
        tokenizer = AutoTokenizer.from_pretrained(resume / "tokenizer" if resume else tokenizer_dir)
    else:
        tokenizer = tiny_tokenizer(texts, vocab_size)
    return tiny.build_model(tokenizer, seed=seed), tokenizer


def write_untrained_tiny(output: Path) -> None:
    """An untrained tiny model with a tokenizer trained on the demo corpus, as a complete fmops output (with its
    manifest): what serving tests and benchmarks serve where only the engine and the protocol matter."""
    from fmops.core import manifest
    from fmops.data.demo import shipped_dir
    from fmops.data.jsonl import iter_records

    texts = [record["text"] for _, record in iter_records(str(shipped_dir() / "pretrain.jsonl"))]
    tokenizer = tiny.build_tokenizer(texts)
    tiny.build_model(tokenizer).save_pretrained(output)
    tokenizer.save_pretrained(output)
    manifest.write(str(output), stage="tiny", inputs={}, config={}, metrics={}, started_at=manifest.now())
