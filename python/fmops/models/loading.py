"""Where a stage's model and tokenizer come from (a local/`file://` dir, `s3://`, a hub id, a registry
pointer), and the one chat-template rule every stage follows.

`check()` runs before torch is imported: it follows registry pointers (`<root>/models/<name>/latest`) to the
version they name and refuses an incomplete fmops output. `load()` then loads the model and its tokenizer,
which always carries a chat template: a given .jinja file, else the tokenizer's own, else fmops ChatML.
One template end to end: SFT formats its data with it and saves it with the tokenizer; DPO, `fmops evaluate`
and serving (vLLM, `transformers serve`) all render prompts with that saved template.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from fmops.core import manifest, registry, storage
from fmops.models import tiny

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def check(uri: str) -> str:
    """The model to start from, as a URI or hub id (pointers resolved); raises InputError when unusable."""
    return manifest.require_complete_model(registry.resolve(uri))


def chat_template(tokenizer: PreTrainedTokenizerBase, template_uri: str = "") -> str:
    """The template to train with: a given .jinja file, else the tokenizer's own, else fmops ChatML."""
    if template_uri:
        return storage.read_text(template_uri)
    return tokenizer.chat_template or tiny.chat_template()


def load(uri: str, *, dtype: Any = "auto", template_uri: str = "") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer from a local dir, an s3:// dir (downloaded first) or a hub id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    opened = storage.local_copy(uri) if manifest.looks_like_path(uri) else nullcontext(uri)
    with opened as source:  # a hub id is left for transformers to resolve
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype)
    tokenizer.chat_template = chat_template(tokenizer, template_uri)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
