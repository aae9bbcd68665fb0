"""Which blocks each step trains on: a deterministic stream mixing new data with replay at a fixed ratio.

Sample i of the stream is a pure function of (seed, i): it comes from the replay corpus when
floor((i+1)·r) > floor(i·r) (so exactly a fraction r of every prefix is replay, evenly spread), else from the
new data; each source is walked in a fresh seeded permutation every epoch. The data position of a run is
therefore its step number: a resumed run needs no data-loader state to continue exactly where it stopped, and
every rank of a multi-process run picks its own slice of the same global batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class Stream:
    """Blocks are anything with len() and integer indexing to a LongTensor [seq_len]: a tensor of packed blocks,
    or packing.TokenBlocks, which reads each block from token shards when it is asked for."""

    def __init__(self, data: Any, replay: Any | None = None, ratio: float = 0.0, seed: int = 0):
        if replay is None or len(replay) == 0:
            ratio = 0.0
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"replay ratio must be in [0, 1), got {ratio}")
        self.sources = [data, replay]
        self.ratio = ratio
        self.seed = seed
        self._perms: dict[tuple[int, int], torch.Tensor] = {}

    def _is_replay(self, i: int) -> bool:
        return math.floor((i + 1) * self.ratio) > math.floor(i * self.ratio)

    def _block(self, source: int, j: int) -> torch.Tensor:
        blocks = self.sources[source]
        epoch, position = divmod(j, len(blocks))
        key = (source, epoch)
        if key not in self._perms:
            self._perms = {k: v for k, v in self._perms.items() if k[1] >= epoch - 1}  # keep memory flat
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + source * 10_007 + epoch)
            self._perms[key] = torch.randperm(len(blocks), generator=generator)
        return blocks[int(self._perms[key][position])]

    def sample(self, i: int) -> torch.Tensor:
        replayed = math.floor(i * self.ratio)
        if self._is_replay(i):
            return self._block(1, replayed)
        return self._block(0, i - replayed)

    def batch(self, start: int, size: int) -> torch.Tensor:
        """Samples start .. start+size-1 stacked into [size, seq_len]."""
        return torch.stack([self.sample(i) for i in range(start, start + size)])

    def replay_count(self, start: int, size: int) -> int:
        return sum(self._is_replay(i) for i in range(start, start + size))
