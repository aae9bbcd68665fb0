"""SFT's loss covers exactly the assistant turns, content and end-of-turn token, for the chat templates of real
model families, with or without `{% generation %}` markers (in-process: tokenizers built here, no training)."""

from __future__ import annotations

import pytest
from fmops.core.errors import InputError

from tests.unit.finetune import chat_families

pytest.importorskip("trl")
SYSTEM = {"role": "system", "content": "You add numbers."}
TURNS = [
    {"role": "user", "content": "What is 12+30?"},
    {"role": "assistant", "content": "12+30=42"},
    {"role": "user", "content": "And 42+1?"},
    {"role": "assistant", "content": "42+1=43"},
]


def trained_runs(tokenizer, input_ids: list[int], trained: list[bool]) -> list[str]:
    """The text of each run of consecutive trained tokens."""
    runs: list[list[int]] = []
    for index, (token, keep) in enumerate(zip(input_ids, trained, strict=True)):
        if keep and (index == 0 or not trained[index - 1]):
            runs.append([])
        if keep:
            runs[-1].append(token)
    return [tokenizer.decode(run) for run in runs]


def masked(tokenizer, messages) -> list[str]:
    from fmops.finetune import assistant_mask

    record = assistant_mask.tokenized(tokenizer, messages, "data.jsonl:1")
    # the sequence trained on is exactly the template's, as TRL would tokenize it
    assert record["input_ids"] == tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    return trained_runs(tokenizer, record["input_ids"], [bool(bit) for bit in record["assistant_masks"]])


@pytest.mark.parametrize(
    ("family", "messages", "expected"),
    [
        (chat_families.llama3, [SYSTEM, *TURNS], ["12+30=42<|eot_id|>", "42+1=43<|eot_id|>"]),
        (chat_families.qwen, [SYSTEM, *TURNS], ["12+30=42<|im_end|>", "42+1=43<|im_end|>"]),
        (chat_families.qwen, TURNS, ["12+30=42<|im_end|>", "42+1=43<|im_end|>"]),  # the default system prompt
        # Mistral's prompts move the system prompt along: turns located by their content
        (chat_families.mistral, [SYSTEM, *TURNS], ["12+30=42</s>", "42+1=43</s>"]),
        (chat_families.mistral, TURNS, ["12+30=42</s>", "42+1=43</s>"]),
        # Qwen3's last turn has a think block the earlier one loses: the model writes it, so it is trained
        (
            lambda: chat_families.qwen(chat_families.QWEN3),
            TURNS,
            ["12+30=42<|im_end|>", "<think>\n\n</think>\n\n42+1=43<|im_end|>"],
        ),
    ],
    ids=["llama3", "qwen2.5", "qwen2.5-default-system", "mistral-system", "mistral", "qwen3"],
)
def test_loss_covers_assistant_turns_and_their_end_token_only(family, messages, expected):
    assert masked(family(), messages) == expected


def test_a_template_with_generation_markers_is_left_to_trl():
    from fmops.finetune import assistant_mask
    from fmops.models import tiny

    records = [{"messages": TURNS}]
    assert assistant_mask.prepare(records, ["data.jsonl:1"], tiny.build_tokenizer(chat_families.TEXT)) is records


def test_a_conversation_the_template_refuses_is_one_line():
    from datasets import Dataset
    from fmops.finetune import assistant_mask

    twice = [TURNS[0], TURNS[2], TURNS[1]]
    with pytest.raises(InputError) as error:
        assistant_mask.prepare(Dataset.from_list([{"messages": twice}]), ["data.jsonl:3"], chat_families.mistral())
    assert str(error.value) == (
        "data.jsonl:3: the chat template refuses this conversation: After the optional system message, "
        "conversation roles must alternate user/assistant/user/assistant/..."
    )


def test_a_template_that_rewrites_answers_it_renders_apart_is_refused():
    from fmops.finetune import assistant_mask

    shouting = chat_families.MISTRAL.replace("message['content'] | trim", "message['content'] | upper")
    messages = [SYSTEM, TURNS[0], {"role": "assistant", "content": "it is 42"}]
    with pytest.raises(InputError) as error:
        assistant_mask.tokenized(chat_families.mistral(shouting), messages, "data.jsonl:2")
    assert str(error.value) == (
        "data.jsonl:2: the chat template changes the text of message 2, so its assistant turns cannot be "
        "located; give a template with {% generation %} markers (--set chat_template=URI)"
    )


@pytest.mark.parametrize("with_markers", [True, False], ids=["trl-generation-markers", "fmops-masks"])
def test_sft_trainer_labels_only_the_assistant_turns(tmp_path, with_markers):
    """What SFTTrainer trains on, built by the runner: TRL's own masking for a template with markers (the tiny
    model's ChatML), fmops' assistant_masks for one without (Llama 3), both turned into labels by TRL."""
    from datasets import Dataset
    from fmops.core import config
    from fmops.finetune import trainer as runner
    from fmops.finetune.chat_data import FinetuneInputs
    from fmops.finetune.config import SFTStageConfig
    from fmops.models import tiny

    tokenizer = tiny.build_tokenizer(chat_families.TEXT) if with_markers else chat_families.llama3()
    end = "<|im_end|>" if with_markers else "<|eot_id|>"
    records = Dataset.from_list([{"messages": [SYSTEM, *TURNS]}])
    inputs = FinetuneInputs(
        model="tiny", data=["data.jsonl"], records=records, places=["data.jsonl:1"], output=str(tmp_path)
    )
    cfg = config.load(SFTStageConfig, "sft", "demo")
    trainer = runner.build_trainer(cfg, inputs, tiny.build_model(tokenizer), tokenizer, tmp_path)
    assert trainer.args.assistant_only_loss is with_markers
    example = trainer.train_dataset[0]
    trained = [label != -100 for label in example["labels"]]
    assert trained_runs(tokenizer, example["input_ids"], trained) == [f"12+30=42{end}", f"42+1=43{end}"]
