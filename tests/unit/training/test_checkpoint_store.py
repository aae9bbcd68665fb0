"""Checkpoints in one process: the marker decides visibility, pruning keeps the newest, a round trip is exact,
and a directory another trainer wrote is published the same way.

`memory://` stands for s3:// here (an fsspec filesystem with no rename, like S3), so the remote code path
(written in place, marker last, small files fetched without the tensors) runs without a server.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fmops.core import storage
from fmops.training import checkpoint, checkpoint_store
from fmops.training.state import StepRecord, TrainState


class OneProcess:
    """What checkpoint.save/load use of accelerate's Accelerator, for a single process."""

    is_main_process, process_index, distributed_type = True, 0, "NO"

    def wait_for_everyone(self) -> None:
        pass


def roots(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "checkpoints"), f"memory://ckpt-{uuid.uuid4().hex}/checkpoints"]


@pytest.fixture(params=["local", "remote"])
def root(request, tmp_path) -> str:
    return roots(tmp_path)[request.param == "remote"]


def training(seed: int = 0):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    return model, optimizer, scheduler


def step(model, optimizer, scheduler) -> float:
    import torch

    loss = model(torch.linspace(-1, 1, 12).reshape(3, 4)).pow(2).mean()
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return loss.item()


def test_prunable_keeps_the_newest_and_drops_leftovers_older_than_the_newest_complete():
    entries = ["step-00000002", "step-00000004", ".tmp-step-00000005", "step-00000006", ".tmp-step-00000008"]
    entries += ["step-00000009", "README"]
    # 9 is unmarked but newer than every complete one: it may be a write in progress, so it stays
    assert checkpoint_store.prunable(entries, [2, 4, 6], keep=2) == ["step-00000002", ".tmp-step-00000005"]
    older = ["step-00000002", "step-00000004", ".tmp-step-00000005"]
    assert checkpoint_store.prunable(entries, [2, 4, 6], keep=1) == older
    assert checkpoint_store.prunable(entries, [], keep=2) == []  # nothing complete: nothing is deleted


def test_save_load_round_trip_is_exact_and_only_marked_checkpoints_count(root, monkeypatch):
    import torch

    model, optimizer, scheduler = training()
    step(model, optimizer, scheduler)
    saved = TrainState(step=1, history=[StepRecord(step=1, lr=0.1, tokens=12, first=True, loss=1.5, seconds=0.5)])
    uri = checkpoint.save(
        OneProcess(),
        root,
        1,
        saved,
        (model, optimizer, scheduler),
        lambda directory: (directory / "extra.txt").write_text("x"),
    )
    assert uri == storage.join(root, "step-00000001")
    assert checkpoint_store.latest(root) == uri
    for name in ["complete.json", "trainer_state.json", "rank-0.pt", "extra.txt", "sharded/.metadata"]:
        assert storage.exists(storage.join(uri, name)), name
    expected = [step(model, optimizer, scheduler) for _ in range(3)]
    noise = torch.rand(3)

    fresh = training(seed=1)  # other weights, empty optimizer state, scheduler at 0
    state = checkpoint.load(OneProcess(), uri, fresh)
    assert state == saved
    assert fresh[2].last_epoch == 1
    assert torch.equal(torch.rand(3), noise)  # this rank's RNG is back where it was at the save
    assert [step(*fresh) for _ in range(3)] == expected  # weights, AdamW moments and LR: bit for bit

    # Killed before the marker: the write is invisible, the newest complete one stays the latest.
    monkeypatch.setattr(checkpoint_store, "publish", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(OneProcess(), root, 2, TrainState(step=2), (model, optimizer, scheduler))
    assert checkpoint_store.complete_steps(root) == [1]
    assert checkpoint_store.latest(root) == uri
    monkeypatch.undo()
    for n in (3, 4, 5):
        checkpoint.save(OneProcess(), root, n, TrainState(step=n), (model, optimizer, scheduler), keep=2)
    assert checkpoint_store.complete_steps(root) == [4, 5]
    assert storage.listdir(root) == ["step-00000004", "step-00000005"]  # step 1, 3 and the killed 2 are gone


def test_fetch_files_copies_the_small_files_not_the_tensors(tmp_path):
    model, optimizer, scheduler = training()
    remote = roots(tmp_path)[1]

    def add_files(directory: Path) -> None:
        (directory / "tokenizer").mkdir()
        (directory / "tokenizer" / "tokenizer.json").write_text("{}")

    uri = checkpoint.save(OneProcess(), remote, 3, TrainState(step=3), (model, optimizer, scheduler), add_files)
    local = checkpoint.fetch_files(uri, tmp_path / "work")
    small = ["complete.json", "tokenizer", "tokenizer/tokenizer.json", "trainer_state.json"]
    assert sorted(p.relative_to(local).as_posix() for p in local.rglob("*")) == small
    assert checkpoint.fetch_files(roots(tmp_path)[0], tmp_path / "unused") == tmp_path / "checkpoints"


def test_a_directory_another_trainer_wrote_is_published_with_the_marker_and_pruned(root, tmp_path):
    def written_by_a_trainer(step: int) -> Path:
        staged = tmp_path / "checkpoints" / ".incomplete" / f"checkpoint-{step}"
        (staged / "sub").mkdir(parents=True)
        (staged / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
        (staged / "sub" / "rank.pth").write_text("x")
        return staged

    for step in (2, 4, 6):
        uri = checkpoint_store.publish_dir(written_by_a_trainer(step), root, step)
        assert uri == storage.join(root, checkpoint_store.name(step))
        assert storage.read_json(storage.join(uri, "trainer_state.json")) == {"global_step": step}
        assert storage.read_json(storage.join(uri, checkpoint_store.MARKER))["step"] == step
        assert storage.exists(storage.join(uri, "sub", "rank.pth"))
        checkpoint_store.prune(root, keep=2)
    assert checkpoint_store.complete_steps(root) == [4, 6]
    assert checkpoint_store.latest(root) == storage.join(root, "step-00000006")


def test_a_part_uploaded_without_the_marker_is_not_a_checkpoint(tmp_path):
    remote = roots(tmp_path)[1]
    part = tmp_path / "rank-1"
    part.mkdir()
    (part / "rng_state_1.pth").write_text("x")
    checkpoint_store.upload_part(part, remote, 3)
    assert storage.exists(storage.join(remote, "step-00000003", "rng_state_1.pth"))
    assert checkpoint_store.complete_steps(remote) == [] and checkpoint_store.latest(remote) is None
