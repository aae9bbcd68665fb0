"""Packed documents with `separate_documents`: a token's loss does not depend on the document before it in its
block (position ids restart after EOS; transformers' block-diagonal mask on sdpa); without it, it does."""

from __future__ import annotations

import pytest
from fmops.models import tiny
from fmops.training import packing

PREVIOUS = ["12+34=46 and some words before", "a different and much longer first document: 99+1=100, 7+8=15"]
TARGET = "21+43=64 is the document whose tokens we score"


def target_losses(separate: bool, attn: str = "sdpa") -> list:
    import torch

    tokenizer = tiny.build_tokenizer([*PREVIOUS, TARGET], vocab_size=300)
    model = tiny.build_model(tokenizer, seed=0)
    model.config._attn_implementation = attn
    model.train()  # the training path: use_cache defaults on, which would turn the packed mask off
    if separate:
        packing.separate_documents(model, tokenizer.eos_token_id)
    eos = tokenizer.eos_token_id
    target = tokenizer(TARGET, add_special_tokens=False)["input_ids"] + [eos]
    losses = []
    for previous in PREVIOUS:
        head = tokenizer(previous, add_special_tokens=False)["input_ids"] + [eos]
        ids = torch.tensor([head + target])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        per_token = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
        losses.append(per_token[len(head) :])  # the target's tokens after its first, predicted within it
    return losses


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_loss_of_a_token_ignores_the_previous_document(attn):
    first, second = target_losses(separate=True, attn=attn)
    assert (first - second).abs().max().item() < 1e-5


def test_without_separation_the_previous_document_leaks_in():
    first, second = target_losses(separate=False)
    assert (first - second).abs().max().item() > 1e-3


def test_positions_restart_after_every_eos():
    import torch

    ids = torch.tensor([[5, 6, 2, 7, 2, 2, 8, 9]])
    assert packing.document_positions(ids, 2).tolist() == [[0, 1, 2, 0, 1, 0, 0, 1]]
