"""Where a stage's model and tokenizer come from (a local/`file://` dir, `s3://`, a hub id, a registry
pointer), and the one chat-template rule every stage follows.

`check()` runs before torch is imported: it follows registry pointers (`<root>/models/<name>/latest`) to the
version they name and refuses an incomplete fmops output, or a model directory without safetensors weights.
`load()` then loads the model (from safetensors only) and its tokenizer, which always carries a chat template:
a given .jinja file, else the tokenizer's own (with its own special tokens and end-of-turn token), else fmops
ChatML, whose `<|im_start|>`/`<|im_end|>` then become special tokens of the model. One template end to end:
SFT formats its data with it and saves it with the tokenizer; DPO, `fmops evaluate` and serving (vLLM,
`transformers serve`) all render prompts with that saved template.
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


def load(
    uri: str, *, dtype: Any = "auto", template_uri: str = "", chat_tokens: bool = True
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer from a local dir, an s3:// dir (downloaded first) or a hub id.

    `chat_tokens=False` (pretraining, which trains on plain text): a model without a template gets fmops
    ChatML as text only; its vocabulary and embeddings stay as they are, so token shards made with its
    tokenizer still match it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    opened = storage.local_copy(uri) if manifest.looks_like_path(uri) else nullcontext(uri)
    with opened as source:  # a hub id is left for transformers to resolve
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        # safetensors only, hub ids included: unpickling a pytorch_model.bin can run arbitrary code
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype, use_safetensors=True)
    if template_uri or tokenizer.chat_template or not chat_tokens:
        tokenizer.chat_template = chat_template(tokenizer, template_uri)
    else:
        use_chatml(model, tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def use_chatml(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """fmops ChatML for a model whose tokenizer has no template. Its markers become special tokens, one token
    each rather than a dozen pieces of text (the embeddings grow when the vocabulary does), and generation
    stops at `<|im_end|>`, the end of turn SFT trains the model to write."""
    tokenizer.add_special_tokens({"extra_special_tokens": list(tiny.CHATML_TOKENS)}, replace_extra_special_tokens=False)
    tokenizer.chat_template = tiny.chat_template()
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))
    stops = model.generation_config.eos_token_id
    stops = [] if stops is None else [stops] if isinstance(stops, int) else list(stops)
    end_of_turn = tokenizer.convert_tokens_to_ids(tiny.EOS)
    if end_of_turn not in stops:
        model.generation_config.eos_token_id = [*stops, end_of_turn]
