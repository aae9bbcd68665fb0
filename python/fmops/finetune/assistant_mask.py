"""SFT's loss on assistant turns only, for any chat template.

A template with `{% generation %}` markers (fmops ChatML, TRL's training templates) is left to TRL, whose
`assistant_only_loss` masks by them. Most models' own templates (Llama 3.x, Qwen 2.5, Mistral) have none and
TRL refuses them; their records are tokenized here instead, `input_ids` plus `assistant_masks`, which
SFTTrainer turns into labels (-100 outside the mask) as it does its own masks, then truncates and packs.

A turn's span is what the model writes after the generation prompt, through the end-of-turn token its
template writes (so the model learns to stop). Rendered prefix by prefix with the tokenizer's own template,
assistant message i spans from the end of `messages[:i]` plus the generation prompt to the end of
`messages[:i+1]`. Where a prefix renders differently once later turns follow (Mistral moves the system prompt
into the last user turn, Qwen3 drops an empty think block from earlier turns), the content is located by
rendering placeholders in its place, and the turn ends with what the template writes after the content when
the turn is last. Whitespace after the end-of-turn token is the separator before the next turn, which the
model never writes, so it stays out. Characters map to tokens by the tokenizer's offsets: a token touching a
span is trained, as transformers does for generation markers.
"""

from __future__ import annotations

import os.path
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError
from trl.chat_template_utils import has_generation_markers

from fmops.core.errors import InputError
from fmops.data import tables

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

Record = dict[str, Any]
Messages = list[dict[str, str]]
Span = tuple[int, int]
# Private-use code points: no template or tokenizer gives them a meaning, and no content holds them.
PLACEHOLDER = "\ue000{}\ue001"
PLACEHOLDERS = re.compile("\ue000(\\d+)\ue001")


def prepare(records: Dataset, places: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> Dataset:
    """Messages records as SFTTrainer takes them with assistant-only loss: unchanged when the template has
    generation markers (TRL masks by them), else tokenized with their `assistant_masks` (`places[i]`: where
    record i is, for a conversation the template refuses)."""
    if has_generation_markers(tokenizer.chat_template):
        return records
    with tables.quiet():
        return records.map(
            lambda record, index: tokenized(tokenizer, record["messages"], places[index]),
            with_indices=True,
            remove_columns=records.column_names,
        )


def tokenized(tokenizer: PreTrainedTokenizerBase, messages: Messages, place: str) -> Record:
    """`input_ids` as `apply_chat_template` makes them, and 1 for each token of an assistant turn."""
    try:
        text = render(tokenizer, messages)
    except TemplateError as error:
        raise InputError(f"{place}: the chat template refuses this conversation: {error}") from None
    spans = assistant_spans(tokenizer, messages, text, place)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return {"input_ids": encoded["input_ids"], "assistant_masks": token_mask(encoded["offset_mapping"], spans)}


def render(tokenizer: PreTrainedTokenizerBase, messages: Messages, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def token_mask(offsets: list[Span], spans: list[Span]) -> list[int]:
    """1 for each token whose characters overlap a span."""
    return [int(any(start < span_end and span_start < end for span_start, span_end in spans)) for start, end in offsets]


def assistant_spans(tokenizer: PreTrainedTokenizerBase, messages: Messages, text: str, place: str) -> list[Span]:
    """The character span in `text` of each assistant turn."""
    ends = [token for token in tokenizer.get_added_vocab() if token.strip()]
    contents: dict[int, Span] = {}  # placeholder rendering, only for a template whose prefixes differ
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = prefix_length(tokenizer, messages[:index], text, generation_prompt=True)
        end = prefix_length(tokenizer, messages[: index + 1], text)
        if start is None or end is None:
            contents = contents or content_spans(tokenizer, messages, text, place)
            content_start, content_end = contents[index]
            if start is None:
                start = content_start
            if end is None:
                end = content_end + end_of_turn_length(tokenizer, messages[: index + 1], text, content_end)
        spans.append(without_separator(text, (start, end), ends))
    return spans


def prefix_length(tokenizer: PreTrainedTokenizerBase, messages: Messages, text: str, **options: bool) -> int | None:
    """Length of `messages` rendered, when that rendering is where `text` starts; None otherwise."""
    try:
        prefix = render(tokenizer, messages, **options)
    except TemplateError:  # e.g. a template that refuses a conversation without a user message
        return None
    return len(prefix) if text.startswith(prefix) else None


def content_spans(tokenizer: PreTrainedTokenizerBase, messages: Messages, text: str, place: str) -> dict[int, Span]:
    """Where the template wrote each assistant message's content in `text` (as given, or trimmed as Llama's
    template does): the conversation rendered with a placeholder for each, matched back against `text`."""
    marked = [with_placeholder(message, index) for index, message in enumerate(messages)]
    pieces = PLACEHOLDERS.split(render(tokenizer, marked))
    written, spans = pieces[0], {}
    for index, after in zip(map(int, pieces[1::2]), pieces[2::2], strict=True):
        content = messages[index]["content"]
        as_written = next((c for c in (content, content.strip()) if text.startswith(written + c + after)), None)
        if as_written is None:
            raise InputError(
                f"{place}: the chat template changes the text of message {index}, so its assistant "
                "turns cannot be located; give a template with {% generation %} markers "
                "(--set chat_template=URI)"
            )
        spans.setdefault(index, (len(written), len(written) + len(as_written)))
        written += as_written + after
    return spans


def end_of_turn_length(tokenizer: PreTrainedTokenizerBase, turn: Messages, text: str, content_end: int) -> int:
    """How much of `text` after an assistant content is that turn's end: what the template writes after the
    content when the turn is the last message."""
    last = len(turn) - 1
    try:
        rendered = render(tokenizer, [*turn[:last], with_placeholder(turn[last], last)])
    except TemplateError:
        return 0
    written_after = rendered.rpartition(PLACEHOLDER.format(last))[2]
    return len(os.path.commonprefix([written_after, text[content_end:]]))


def with_placeholder(message: dict[str, str], index: int) -> dict[str, str]:
    return {**message, "content": PLACEHOLDER.format(index)} if message["role"] == "assistant" else message


def without_separator(text: str, span: Span, ends: list[str]) -> Span:
    """The span less the whitespace after its end-of-turn token (e.g. ChatML's newline after `<|im_end|>`):
    generation stops at that token, and the template writes the separator before the next turn itself."""
    start, end = span
    stripped = start + len(text[start:end].rstrip())
    return (start, stripped) if any(text.endswith(token, start, stripped) for token in ends) else span
