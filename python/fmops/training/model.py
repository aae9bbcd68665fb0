"""Where a training run's model and tokenizer come from: `tiny`, a local/`file://` dir, `s3://`, a hub id.

`check()` runs before torch is imported: it follows registry pointers (`<root>/models/<name>/latest`) to the
version they name and refuses an incomplete fmops output. `load()` then builds or loads the model in fp32
(mixed precision is applied by accelerate) and its tokenizer, which always carries a chat template.
`tiny` trains its BPE tokenizer on the training text plus a few ChatML renderings, so chat prompts of later
stages (SFT, serving) tokenize into the same merges.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fmops.core import manifest, registry, storage

TINY = "tiny"
# Rendered through the chat template and added to the tiny tokenizer's training text.
CHAT_SAMPLES = [
    [{"role": "user", "content": "What is 12+34?"}, {"role": "assistant", "content": "46"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello"}],
]


def check(uri: str) -> str:
    """The model to start from, as a URI or hub id (pointers resolved); raises InputError when unusable."""
    if uri == TINY:
        return uri
    return manifest.require_complete_model(registry.resolve(uri))


def local_dir(uri: str, workdir: Path) -> str:
    """A local directory (or hub id) for transformers' from_pretrained; s3:// is downloaded once."""
    if not storage.is_remote(uri):
        return str(storage.local_path(uri)) if manifest.looks_like_path(uri) else uri
    target = workdir / "base-model"
    if not target.exists():
        with storage.local_copy(uri) as path:
            import shutil

            shutil.copytree(path, target)
    return str(target)


def tiny_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    from fmops.models import tiny

    template = tiny.build_tokenizer(["placeholder"], vocab_size=300)  # only to render the samples
    samples = [template.apply_chat_template(m, tokenize=False) for m in CHAT_SAMPLES]
    return tiny.build_tokenizer([*texts, *samples], vocab_size=vocab_size)


def load(
    uri: str, texts: list[str], workdir: Path, *, seed: int, vocab_size: int, resume: Path | None = None
) -> tuple[Any, Any]:
    """(model, tokenizer). On resume the tokenizer is the one saved in the checkpoint, never retrained."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fmops.models import tiny

    if uri == TINY:
        if resume is not None:
            tokenizer = AutoTokenizer.from_pretrained(resume / "tokenizer")
        else:
            tokenizer = tiny_tokenizer(texts, vocab_size)
        return tiny.build_model(tokenizer, seed=seed), tokenizer
    source = local_dir(uri, workdir)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if not tokenizer.chat_template:
        tokenizer.chat_template = tiny.chat_template()
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    return model, tokenizer
