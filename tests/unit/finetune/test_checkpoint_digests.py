"""Finetuning checkpoints: published with the digests of their files, and resumed from only when they match.

The Trainer is stood in for by the files it writes into `checkpoint-N/`; the callback publishes them as
`fmops sft|dpo` does, and `resume_path` is what hands a checkpoint to the Trainer. `memory://` stands for s3://.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from fmops.core import storage
from fmops.core.errors import InputError
from fmops.finetune import checkpoints
from fmops.training import checkpoint_store

from tests.helpers import Payload


@pytest.fixture(params=["local", "remote"])
def output(request, tmp_path) -> str:
    return str(tmp_path / "out") if request.param == "local" else f"memory://sft-{uuid.uuid4().hex}/out"


def trainer_saves(output: str, work: Path, step: int) -> None:
    """What the Trainer writes at a save, then the callback's publication of it."""
    import torch

    staging = (storage.local_path(output) if not storage.is_remote(output) else work) / "checkpoints"
    staged = staging / checkpoints.INCOMPLETE / f"checkpoint-{step}"
    staged.mkdir(parents=True)
    (staged / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    torch.save({"cpu": torch.get_rng_state()}, staged / "rng_state.pth")
    (staged / "model.safetensors").write_bytes(b"weights")
    args = SimpleNamespace(output_dir=str(staged.parent))
    state = SimpleNamespace(global_step=step, is_world_process_zero=True)
    checkpoints.PublishCheckpoints(output, keep=2).on_save(args, state, control=None)


def refusal(output: str, work: Path) -> str:
    with pytest.raises(InputError) as caught:
        checkpoints.resume_path(output, work)
    message = str(caught.value)
    assert "\n" not in message and "delete it to resume from the previous checkpoint" in message, message
    return message


def test_a_published_checkpoint_lists_its_files_and_resumes(output, tmp_path):
    trainer_saves(output, tmp_path / "work", 2)
    uri = storage.join(output, "checkpoints", "step-00000002")
    listed = storage.read_json(storage.join(uri, checkpoint_store.MARKER))["files"]
    assert sorted(listed) == ["model.safetensors", "rng_state.pth", "trainer_state.json"]
    assert listed["model.safetensors"]["size"] == len(b"weights")
    resumed = Path(checkpoints.resume_path(output, tmp_path / "work"))
    assert (resumed / "rng_state.pth").read_bytes() == storage.read_bytes(storage.join(uri, "rng_state.pth"))


def test_a_planted_rng_state_is_refused_before_the_trainer_loads_it(output, tmp_path):
    import torch

    trainer_saves(output, tmp_path / "work", 2)
    ran = tmp_path / "payload-ran"
    planted = storage.join(output, "checkpoints", "step-00000002", "rng_state.pth")
    buffer = io.BytesIO()
    torch.save({"cpu": Payload(ran)}, buffer)
    storage.atomic_write_bytes(planted, buffer.getvalue())

    message = refusal(output, tmp_path / "work")
    assert message.startswith(f"{planted}: differs from the sha256 and size complete.json lists"), message
    assert not ran.exists()


def test_an_extra_file_in_a_finetuning_checkpoint_is_refused(output, tmp_path):
    trainer_saves(output, tmp_path / "work", 2)
    extra = storage.join(output, "checkpoints", "step-00000002", "pytorch_model_fsdp_0", ".metadata")
    storage.atomic_write_bytes(extra, b"planted")
    assert refusal(output, tmp_path / "work").startswith(f"{extra}: not listed in complete.json")
