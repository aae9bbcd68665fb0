"""One chat template end to end: what SFT trained on is what evaluation (and serving) render from the saved model."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("torch")


def _demo_conversation(demo_dir) -> list[dict]:
    return json.loads((demo_dir / "sft.jsonl").read_text().splitlines()[0])["messages"]


def test_saved_tokenizers_carry_the_training_template(pretrained_model, sft_model, dpo_model):
    from fmops.models import loading
    from transformers import AutoTokenizer

    trained_with = loading.chat_template(AutoTokenizer.from_pretrained(str(pretrained_model)), "")
    assert "{% generation %}" in trained_with  # what TRL's assistant_only_loss masks by
    for output in (sft_model, dpo_model):
        assert AutoTokenizer.from_pretrained(str(output)).chat_template == trained_with
        assert (output / "chat_template.jinja").read_text() == trained_with


def test_evaluation_prompt_is_byte_identical_to_the_training_format(demo_dir, pretrained_model, sft_model):
    """lm-eval's `hf` model (what `fmops evaluate` runs, like `transformers serve` and vLLM, renders with the
    model's own tokenizer) must produce exactly the prefix SFT trained the answer after."""
    from fmops.models import loading
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    conversation = _demo_conversation(demo_dir)
    question, answer = conversation[0]["content"], conversation[1]["content"]
    training_tokenizer = AutoTokenizer.from_pretrained(str(pretrained_model))
    training_tokenizer.chat_template = loading.chat_template(training_tokenizer, "")
    trained = training_tokenizer.apply_chat_template(conversation, tokenize=False)  # SFTTrainer's own call

    evaluation = HFLM(pretrained=str(sft_model), batch_size=1, device="cpu")
    prompt = evaluation.apply_chat_template([{"role": "user", "content": question}])
    print(f"training text: {trained!r}\nevaluation prompt: {prompt!r}")
    assert trained == prompt + answer + "<|im_end|>\n"
    trained_ids = training_tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=True)["input_ids"]
    prompt_ids = evaluation.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert trained_ids[: len(prompt_ids)] == prompt_ids
