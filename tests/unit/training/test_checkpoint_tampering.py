"""A checkpoint is loaded only when its files are the ones its main rank listed: a planted pickle never runs.

Each payload is a pickle whose unpickling opens (creates) a file: if that file exists after the resume, the
planted code ran. `memory://` stands for s3:// as in test_checkpoint_store.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import pytest
from fmops.core import storage
from fmops.core.errors import InputError
from fmops.training import checkpoint, checkpoint_store
from fmops.training.state import TrainState

from tests.helpers import Payload
from tests.unit.training.test_checkpoint_store import OneProcess, roots, step, training


@pytest.fixture(params=["local", "remote"])
def saved(request, tmp_path) -> str:
    """The URI of an intact checkpoint at step 1 of a tiny model."""
    root = roots(tmp_path)[request.param == "remote"]
    model, optimizer, scheduler = training()
    step(model, optimizer, scheduler)
    return checkpoint.save(OneProcess(), root, 1, TrainState(step=1), (model, optimizer, scheduler))


def refused(uri: str) -> str:
    """The one-line message of the refusal to resume from `uri` (a fresh model, as a rerun has)."""
    with pytest.raises(InputError) as caught:
        checkpoint.load(OneProcess(), uri, training(seed=1))
    message = str(caught.value)
    assert "\n" not in message and f"refusing to load checkpoint {uri}" in message, message
    return message


def marker(uri: str) -> dict:
    return storage.read_json(storage.join(uri, checkpoint_store.MARKER))


def test_the_marker_lists_every_file_with_its_sha256_and_size(saved):
    files = marker(saved)["files"]
    assert {"rank-0.pt", "trainer_state.json", "sharded/.metadata", "sharded/__0_0.distcp"} <= set(files)
    assert "complete.json" not in files
    data = storage.read_bytes(storage.join(saved, "rank-0.pt"))
    assert files["rank-0.pt"] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def planted_rank_file(uri: str, ran: Path) -> bytes:
    """Replace rank-0.pt with a torch.save'd pickle whose unpickling creates `ran`; returns its bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save({"rng": Payload(ran), "scheduler": {}}, buffer)
    storage.atomic_write_bytes(storage.join(uri, "rank-0.pt"), buffer.getvalue())
    return buffer.getvalue()


def test_an_intact_checkpoint_resumes_and_its_rank_file_is_plain_tensors(saved):
    import torch

    assert checkpoint.load(OneProcess(), saved, training(seed=1)) == TrainState(step=1)
    data = io.BytesIO(storage.read_bytes(storage.join(saved, "rank-0.pt")))
    rank = torch.load(data, weights_only=True)
    assert isinstance(rank["rng"]["torch"], torch.Tensor) and isinstance(rank["rng"]["numpy"]["key"], torch.Tensor)


def test_a_planted_rank_file_is_refused_and_never_unpickled(saved, tmp_path):
    ran = tmp_path / "payload-ran"
    planted_rank_file(saved, ran)

    message = refused(saved)
    assert message.startswith(f"{storage.join(saved, 'rank-0.pt')}: differs from the sha256"), message
    assert "delete it to resume from the previous checkpoint" in message
    assert not ran.exists()


def test_a_planted_rank_file_with_a_rewritten_marker_is_still_not_unpickled(saved, tmp_path):
    """The list cannot stop a writer who rewrites the marker too; weights_only=True still refuses the code."""
    ran = tmp_path / "payload-ran"
    data = planted_rank_file(saved, ran)
    rewritten = marker(saved)
    rewritten["files"]["rank-0.pt"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    storage.atomic_write_text(storage.join(saved, checkpoint_store.MARKER), json.dumps(rewritten))

    message = refused(saved)
    assert "rank-0.pt: holds more than tensors and plain values" in message, message
    assert not ran.exists()


def test_a_tampered_dcp_metadata_is_refused_before_dcp_unpickles_it(saved, tmp_path):
    ran = tmp_path / "payload-ran"
    metadata = storage.join(saved, "sharded", ".metadata")
    storage.atomic_write_bytes(metadata, pickle.dumps(Payload(ran)))

    assert refused(saved).startswith(f"{metadata}: differs from the sha256 and size complete.json lists")
    assert not ran.exists()


def test_an_extra_file_is_refused_by_name(saved):
    extra = storage.join(saved, "sharded", "__9_0.distcp")
    storage.atomic_write_bytes(extra, b"not written by the run")
    assert refused(saved).startswith(f"{extra}: not listed in complete.json")


def test_a_missing_file_is_refused_by_name(saved):
    shard = storage.join(saved, "sharded", "__0_0.distcp")
    storage.remove(shard)
    assert refused(saved).startswith(f"{shard}: listed in complete.json but missing")


def test_a_marker_without_a_file_list_is_refused(saved):
    """A checkpoint of an fmops that did not list its files has nothing to check: refused, not trusted."""
    storage.atomic_write_text(storage.join(saved, checkpoint_store.MARKER), json.dumps({"step": 1}))
    with pytest.raises(InputError, match=r"complete.json: no valid list of the checkpoint's file digests"):
        checkpoint.load(OneProcess(), saved, training(seed=1))


def test_the_newest_checkpoint_is_refused_not_skipped(tmp_path):
    """A tampered newest checkpoint stops the run: the older one is not silently resumed from."""
    root = roots(tmp_path)[0]
    model, optimizer, scheduler = training()
    for n in (1, 2):
        checkpoint.save(OneProcess(), root, n, TrainState(step=n), (model, optimizer, scheduler))
    newest = checkpoint_store.latest(root)
    (storage.local_path(newest) / "rank-0.pt").write_bytes(b"tampered")
    with pytest.raises(InputError, match="step-00000002/rank-0.pt: differs"):
        checkpoint.verify(newest)
    assert checkpoint_store.latest(root) == newest
