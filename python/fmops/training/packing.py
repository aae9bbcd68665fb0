"""Pack documents into fixed-length token blocks (no padding), split off held-out text, measure entropy.

Documents are tokenized, each followed by EOS, concatenated and cut into blocks of `seq_len` tokens (the
config's max_length); the tail that does not fill a block is dropped (at most seq_len - 1 tokens). The
held-out split is made on documents (every k-th one), so no held-out text is ever trained on; a corpus of a
single document is split on blocks instead.

Two sources: raw text (`pack`: tokenized here, in memory; for small corpora) or a prepared dataset
(`from_shards`: token shards from `fmops tokenize`, where the training blocks stay on storage and are read
one at a time, `TokenBlocks`; the held-out text is the corpus's tail, from a document start on).

Documents in one block attend to each other unless `separate_documents` is applied to the model: then
position ids restart after every EOS, and transformers turns restarting position ids (with no attention
mask and no cache) into a block-diagonal causal mask (sdpa/eager) or its varlen path (flash attention).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fmops.core.errors import InputError
from fmops.training.token_shards import TokenDataset


@dataclass(frozen=True)
class Packed:
    """Training blocks (a LongTensor [n, seq_len] or TokenBlocks) and held-out blocks (a LongTensor) of one corpus,
    and the unigram entropy of its tokens (training tokens for raw text, the whole dataset for token shards)."""

    train: Any
    held_out: torch.Tensor
    unigram_entropy: float


class TokenBlocks:
    """`count` blocks of `seq_len` tokens from token offset `start` of a prepared dataset, read when indexed."""

    def __init__(self, dataset: TokenDataset, seq_len: int, start: int, count: int):
        self.dataset, self.seq_len, self.start, self.count = dataset, seq_len, start, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int | slice) -> torch.Tensor:
        if isinstance(i, slice):
            return torch.stack([self[j] for j in range(*i.indices(self.count))])
        if not 0 <= i < self.count:
            raise IndexError(f"block {i} of {self.count}")
        first = self.start + i * self.seq_len
        return torch.from_numpy(self.dataset.tokens(first, first + self.seq_len).astype(np.int64))


def tokenize(tokenizer: Any, documents: Sequence[str]) -> list[list[int]]:
    encoded = tokenizer(list(documents), add_special_tokens=False)["input_ids"]
    return [ids + [tokenizer.eos_token_id] for ids in encoded]


def to_blocks(token_lists: Sequence[list[int]], seq_len: int) -> torch.Tensor:
    flat = [token for ids in token_lists for token in ids]
    count = len(flat) // seq_len
    return torch.tensor(flat[: count * seq_len], dtype=torch.long).view(count, seq_len)


def pack(tokenizer: Any, documents: Sequence[str], seq_len: int, held_out_fraction: float, name: str) -> Packed:
    """Tokenize, split (every k-th document held out, k = round(1 / fraction)) and pack into blocks."""
    token_lists = tokenize(tokenizer, documents)
    every = max(2, round(1 / held_out_fraction)) if held_out_fraction > 0 else 0
    if every and len(token_lists) >= every:
        train_lists = [ids for i, ids in enumerate(token_lists) if i % every != every - 1]
        held_lists = [ids for i, ids in enumerate(token_lists) if i % every == every - 1]
        train, held_out = to_blocks(train_lists, seq_len), to_blocks(held_lists, seq_len)
    else:
        train_lists = token_lists
        blocks = to_blocks(token_lists, seq_len)
        held = max(1, round(len(blocks) * held_out_fraction)) if every and len(blocks) > 1 else 0
        train, held_out = blocks[: len(blocks) - held], blocks[len(blocks) - held :]
    total = sum(len(ids) for ids in token_lists)
    if len(train) == 0:
        raise InputError(f"{name}: {total} tokens do not fill one training block of max_length={seq_len} tokens")
    if every and len(held_out) == 0:
        raise InputError(
            f"{name}: held-out split ({held_out_fraction:.0%}) is shorter than one block of "
            f"max_length={seq_len} tokens; lower max_length or give more data"
        )
    return Packed(train, held_out, unigram_entropy([t for ids in train_lists for t in ids]))


def from_shards(dataset: TokenDataset, seq_len: int, held_out_fraction: float, eval_blocks: int, name: str) -> Packed:
    """Training blocks from the start of the dataset, held-out blocks from its tail: they begin at the first
    document start after the training blocks end, so no held-out text is ever trained on."""
    blocks = dataset.num_tokens // seq_len
    held = max(1, round(blocks * held_out_fraction))
    starts = dataset.document_starts()
    cut = (blocks - held) * seq_len
    first_held = int(starts[np.searchsorted(starts, cut)]) if cut <= int(starts[-1]) else dataset.num_tokens
    held_blocks = (dataset.num_tokens - first_held) // seq_len
    if blocks - held < 1:
        raise InputError(
            f"{name}: {dataset.num_tokens} tokens do not fill one training block of max_length={seq_len} tokens"
        )
    if held_blocks < 1:
        raise InputError(
            f"{name}: held-out split ({held_out_fraction:.0%}) is shorter than one block of "
            f"max_length={seq_len} tokens after its first document start; give more data"
        )
    train = TokenBlocks(dataset, seq_len, 0, blocks - held)
    held_out = TokenBlocks(dataset, seq_len, first_held, min(held_blocks, eval_blocks))[:]
    return Packed(train, held_out, float(dataset.index["unigram_entropy"]))


def document_positions(input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Position ids that restart at 0 on the token after every EOS (each document starts at position 0)."""
    index = torch.arange(input_ids.shape[-1], device=input_ids.device).expand_as(input_ids)
    after_eos = torch.nn.functional.pad(input_ids[..., :-1] == eos_token_id, (1, 0))
    starts = torch.where(after_eos, index, torch.zeros_like(index))
    return index - torch.cummax(starts, dim=-1).values


def separate_documents(model: torch.nn.Module, eos_token_id: int) -> None:
    """Make `model(input_ids=...)` keep packed documents apart: position ids per document, no cache (a cache
    turns transformers' packed-sequence mask off). A forward pre-hook, so every caller (training step,
    evaluation, DDP/FSDP/DeepSpeed wrappers, which all call this module) gets it without passing anything."""

    def add_positions(module: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict] | None:
        ids = kwargs.get("input_ids")
        if ids is None or kwargs.get("position_ids") is not None:
            return None
        return args, {**kwargs, "position_ids": document_positions(ids, eos_token_id), "use_cache": False}

    model.register_forward_pre_hook(add_positions, with_kwargs=True)


def unigram_entropy(tokens: Sequence[int]) -> float:
    """-sum p log p over the corpus's token frequencies, in nats (the unit of the cross-entropy loss).

    A model that learned only how often each token occurs reaches this loss; below it, it learned context.
    """
    counts = Counter(tokens)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())
