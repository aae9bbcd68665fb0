"""Ending a distributed run without the exit hang torch's gloo backend can fall into.

A DDP model's C++ Reducer holds the process group. When the model is freed after the group was destroyed,
the Reducer drops the group's last reference, and the group's destructor joins the gloo worker threads while
the GIL is held; a worker still releasing a finished collective's tensors waits for the GIL, and the process
never exits (seen about once in 60-90 runs of a 2-rank CPU pretraining). Freed while the group is still
registered, the Reducer's reference is not the last one; the group then goes from Python, whose binding
releases the GIL before the join. The check covers DDP models only: FSDP2 has no Reducer (not measured).
"""

from __future__ import annotations

import gc
from typing import Any


def live_ddp_models() -> int:
    """How many DistributedDataParallel wrappers are alive in this process."""
    from torch.nn.parallel import DistributedDataParallel

    gc.collect()  # a wrapped module sits in reference cycles
    return sum(issubclass(type(o), DistributedDataParallel) for o in gc.get_objects())


def end_distributed(accelerator: Any) -> None:
    """Free what `accelerator.prepare` holds, then end the process group. The caller drops its own DDP model
    first (keeping `accelerator.unwrap_model(model)` for saving); raises RuntimeError, before ending anything,
    if a DDP model is still alive."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type != DistributedType.DEEPSPEED:
        # for DeepSpeed (NCCL, no Reducer) free_memory would destroy the engine that saving still reads from
        accelerator.free_memory()
    alive = live_ddp_models()
    if alive:
        raise RuntimeError(
            f"{alive} DistributedDataParallel model(s) still referenced: drop them before the "
            "process group ends, or the exit can hang"
        )
    accelerator.end_training()
