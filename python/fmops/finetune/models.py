"""Load the model and tokenizer to finetune, and fix the chat template the run trains (and ships) with.

One template end to end: SFT formats its data with the template chosen here and saves it with the tokenizer;
DPO, `fmops evaluate` and serving (vLLM, `transformers serve`) all render prompts with that saved template.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from fmops.core import storage
from fmops.core.manifest import looks_like_path
from fmops.models import tiny

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def chat_template(tokenizer: PreTrainedTokenizerBase, template_uri: str) -> str:
    """The template to train with: a given .jinja file, else the tokenizer's own, else fmops ChatML."""
    if template_uri:
        return storage.read_text(template_uri)
    return tokenizer.chat_template or tiny.chat_template()


def load(model_uri: str, template_uri: str = "") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer from a local dir, an s3:// dir (downloaded first) or a hub id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    opened = storage.local_copy(model_uri) if looks_like_path(model_uri) else nullcontext(model_uri)
    with opened as source:  # a hub id is left for transformers to resolve
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype="auto")
    tokenizer.chat_template = chat_template(tokenizer, template_uri)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
