"""A model without a chat template gets fmops ChatML, whose markers become special tokens of the model: one token
each, embeddings grown to match, generation stopping at `<|im_end|>`. A model with its own template keeps it and
its vocabulary (in-process: a small base model saved here, no downloads)."""

from __future__ import annotations

import pytest

from tests.unit.finetune import chat_families

pytest.importorskip("transformers")
CONVERSATION = [{"role": "user", "content": "What is 12+30?"}, {"role": "assistant", "content": "12+30=42"}]


def saved_model(directory, tokenizer):
    from fmops.models import tiny

    tiny.build_model(tokenizer).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def test_chatml_markers_become_one_special_token_each(tmp_path):
    from fmops.models import loading, tiny

    base = chat_families.llama3(template=None)
    vocabulary = len(base)
    model, tokenizer = loading.load(saved_model(tmp_path, base))
    assert tokenizer.chat_template == tiny.chat_template()
    ids = [tokenizer.convert_tokens_to_ids(token) for token in tiny.CHATML_TOKENS]
    assert sorted(ids) == [vocabulary, vocabulary + 1]  # new rows, not pieces of text
    assert len(tokenizer) == model.get_input_embeddings().num_embeddings == vocabulary + 2
    assert tokenizer.decode(ids, skip_special_tokens=True) == ""
    rendered = tokenizer.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True)["input_ids"]
    assert [rendered.count(token_id) for token_id in ids] == [2, 2]  # each turn opened and closed by one token
    assert tokenizer.convert_tokens_to_ids(tiny.EOS) in model.generation_config.eos_token_id


def test_a_model_with_its_own_template_keeps_it_and_its_vocabulary(tmp_path):
    from fmops.models import loading

    own = chat_families.qwen()
    vocabulary = len(own)
    model, tokenizer = loading.load(saved_model(tmp_path, own))
    assert tokenizer.chat_template == chat_families.QWEN25
    assert len(tokenizer) == model.get_input_embeddings().num_embeddings == vocabulary
