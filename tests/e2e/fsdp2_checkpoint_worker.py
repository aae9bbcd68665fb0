"""One rank of the FSDP2 checkpoint test (started by torchrun): a tiny Llama sharded with torch's own
`fully_shard` on CPU/gloo, trained and checkpointed through fmops.training.checkpoint.

    worker.py reference ROOT OUT   train 4 steps, checkpoint at step 2, record every loss
    worker.py resume ROOT OUT      other initial weights, load the step-2 checkpoint, train steps 3 and 4

OUT.<rank>.json gets the losses, this rank's parameter shard sizes, and the bytes it read from each file of
the checkpoint (resume), so the test can check that a rank reads its own shards, not the whole checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from accelerate import Accelerator
from fmops.training import checkpoint, checkpoint_store
from fmops.training.state import TrainState
from torch.distributed.checkpoint.filesystem import FileSystemReader
from torch.distributed.fsdp import fully_shard
from transformers import LlamaConfig, LlamaForCausalLM

STEPS, SAVE_AT, VOCAB, LENGTH = 4, 2, 256, 16


def build(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=LENGTH,
    )
    model = LlamaForCausalLM(config)
    for layer in model.model.layers:
        fully_shard(layer)
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    return model, optimizer, scheduler


def train_step(model, optimizer, scheduler, step: int, rank: int) -> float:  # noqa: ANN001
    batch = torch.randint(0, VOCAB, (2, LENGTH), generator=torch.Generator().manual_seed(100 * step + rank))
    loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    reduced = loss.detach().clone()
    torch.distributed.all_reduce(reduced)
    return reduced.item() / torch.distributed.get_world_size()


def record_reads(reads: dict[str, int]) -> None:
    """Count the bytes DCP's reader asks for, per file (the reader is shared by the files and fsspec ones)."""
    slice_file = FileSystemReader._slice_file

    def counting(self, file, info):  # noqa: ANN001, ANN202
        reads[Path(info.relative_path).name] = reads.get(Path(info.relative_path).name, 0) + info.length
        return slice_file(self, file, info)

    FileSystemReader._slice_file = counting


def main(mode: str, root: str, out: str) -> None:
    accelerator = Accelerator(cpu=True)
    rank = accelerator.process_index
    training = build(seed=0 if mode == "reference" else 1)
    first, reads = 1, {}
    if mode == "resume":
        record_reads(reads)
        uri = checkpoint_store.latest(root)
        first = checkpoint.load(accelerator, uri, training).step + 1
    losses = {}
    for step in range(first, STEPS + 1):
        losses[step] = train_step(*training, step, rank)
        if mode == "reference" and step == SAVE_AT:
            checkpoint.save(accelerator, root, step, TrainState(step=step), training)
    shards = {name: p.to_local().numel() for name, p in training[0].named_parameters()}
    placements = sorted({str(p.placements) for p in training[0].parameters()})
    Path(f"{out}.{rank}.json").write_text(
        json.dumps({"losses": losses, "shards": shards, "reads": reads, "placements": placements})
    )
    accelerator.end_training()


if __name__ == "__main__":
    main(*sys.argv[1:])
