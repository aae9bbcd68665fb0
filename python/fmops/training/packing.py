"""Pack documents into fixed-length token blocks (no padding), split off held-out text, measure entropy.

Documents are tokenized, each followed by EOS, concatenated and cut into blocks of `seq_len` tokens (the
config's max_length); the tail that does not fill a block is dropped (at most seq_len - 1 tokens). The
held-out split is made on documents (every k-th one), so no held-out text is ever trained on; a corpus of a
single document is split on blocks instead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from fmops.core.errors import InputError


@dataclass(frozen=True)
class Packed:
    """Training and held-out blocks of one corpus, each a LongTensor [n, seq_len]."""

    train: torch.Tensor
    held_out: torch.Tensor
    train_tokens: list[int]


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
        raise InputError(f"{name}: held-out split ({held_out_fraction:.0%}) is shorter than one block of "
                         f"max_length={seq_len} tokens; lower max_length or give more data")  # fmt: skip
    return Packed(train=train, held_out=held_out, train_tokens=[t for ids in train_lists for t in ids])


def unigram_entropy(tokens: Sequence[int]) -> float:
    """-sum p log p over the corpus's token frequencies, in nats (the unit of the cross-entropy loss).

    A model that learned only how often each token occurs reaches this loss; below it, it learned context.
    """
    counts = Counter(tokens)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())
