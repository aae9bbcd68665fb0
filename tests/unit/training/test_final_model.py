"""The final pretraining model: safetensors in the training dtype, in shards when large, loadable as is."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float32"])
def test_saved_in_the_training_dtype_and_sharded(tmp_path, monkeypatch, dtype_name):
    import torch
    from fmops.training import trainer as pretrain
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config)  # fp32 in memory, as the training loop keeps it
    monkeypatch.setattr(pretrain, "MAX_SHARD_SIZE", "20KB")  # a "large" model for this size
    dtype = getattr(torch, dtype_name)
    pretrain.save_model(model, model.state_dict(), dtype, tmp_path)

    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and all(name.endswith(".safetensors") for name in shards)
    for shard in shards:
        with safe_open(str(tmp_path / shard), "pt") as handle:
            assert {handle.get_tensor(key).dtype for key in handle.keys()} == {dtype}
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == dtype_name
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert next(loaded.parameters()).dtype == dtype
    expected = model.model.embed_tokens.weight.detach().to(dtype)
    assert torch.equal(loaded.model.embed_tokens.weight.detach(), expected)
