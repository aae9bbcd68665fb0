"""end_distributed ends the process group only once no DDP model (the holder of its C++ Reducer) is alive."""

from collections.abc import Iterator

import pytest
import torch
import torch.distributed as dist
from accelerate import Accelerator
from fmops.training.shutdown import end_distributed
from torch.nn.parallel import DistributedDataParallel


@pytest.fixture
def gloo_group() -> Iterator[None]:
    """A one-rank gloo process group in this process, as torchrun gives each rank."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_the_group_ends_once_the_ddp_model_is_dropped(gloo_group):
    accelerator = Accelerator(cpu=True)
    wrapped = DistributedDataParallel(torch.nn.Linear(2, 2))
    wrapped(torch.ones(1, 2)).sum().backward()  # a collective (the gradient all-reduce) has run
    del wrapped
    end_distributed(accelerator)
    assert not dist.is_initialized()


def test_a_ddp_model_still_held_is_refused_before_the_group_ends(gloo_group):
    accelerator = Accelerator(cpu=True)
    wrapped = DistributedDataParallel(torch.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="1 DistributedDataParallel model"):
        end_distributed(accelerator)
    assert dist.is_initialized()
    del wrapped
    end_distributed(accelerator)
    assert not dist.is_initialized()
