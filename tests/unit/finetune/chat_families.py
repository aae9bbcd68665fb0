"""Small local tokenizers with the special tokens and chat templates of real model families (no downloads):
a byte-level BPE, as Llama 3 and Qwen use, or a SentencePiece-style one (Metaspace), as Mistral does, trained
on a few lines. The templates follow the families' own, trimmed to the roles fmops data has."""

from __future__ import annotations

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
QWEN25 = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if (message.role == 'user') or (message.role == 'system' and not loop.first)"
    " or (message.role == 'assistant') %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>'"
    " + '\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)
# Mistral v0.3: the system prompt goes into the last user turn, so earlier prompts render differently once the
# conversation goes on.
MISTRAL = (
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('After the optional system "
    "message, conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}"
    "{%- if message['role'] == 'user' %}{%- if loop.last and system_message is defined %}"
    "{{- '[INST] ' + system_message + '\n\n' + message['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] | trim + eos_token }}{%- endif %}"
    "{%- endfor %}"
)
# Qwen3: the final assistant turn carries an (empty) think block that earlier turns lose.
QWEN3 = (
    "{%- for message in messages %}{%- if message.role == 'assistant' %}{{- '<|im_start|>assistant\n' }}"
    "{%- if loop.last %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}{{- message.content + '<|im_end|>\n' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
)

LLAMA3_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
QWEN_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MISTRAL_TOKENS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]

TEXT = [
    "You add numbers. What is 12+30? 12+30=42 And 42+1? 42+1=43 You are Qwen, created by Alibaba Cloud.",
    "You are a helpful assistant. user assistant system think",
]


def tokenizer(special: list[str], *, bos: str, eos: str, template: str | None, metaspace: bool = False):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>" if metaspace else None))
    if metaspace:
        backend.pre_tokenizer, backend.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    else:
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
    alphabet = [] if metaspace else pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=special, initial_alphabet=alphabet, show_progress=False
    )
    backend.train_from_iterator(TEXT, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos)
    wrapped.chat_template = template
    return wrapped


def llama3(template: str | None = LLAMA3):
    return tokenizer(LLAMA3_TOKENS, bos="<|begin_of_text|>", eos="<|eot_id|>", template=template)


def qwen(template: str = QWEN25):
    return tokenizer(QWEN_TOKENS, bos="<|endoftext|>", eos="<|im_end|>", template=template)


def mistral(template: str = MISTRAL):
    return tokenizer(MISTRAL_TOKENS, bos="<s>", eos="</s>", template=template, metaspace=True)
