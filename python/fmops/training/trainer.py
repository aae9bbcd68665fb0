"""The torch side of `fmops pretrain`: set up accelerate, model, packed data; train; save the output.

Imported only after the inputs are validated (it imports torch and transformers). Returns the metrics on
rank 0 and None on the other ranks; the stage (fmops.training.pretrain) then writes the manifest (rank 0 only).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError
from fmops.training import checkpoint, checkpoint_store, flops, loop, metrics, packing, plot, token_shards
from fmops.training import model as model_source
from fmops.training.config import PretrainConfig, PretrainInputs, TrainConfig
from fmops.training.sampling import Stream
from fmops.training.shutdown import end_distributed
from fmops.training.text_data import Corpus
from fmops.training.token_shards import TokenDataset

CONFIG_FILE = "fmops_config.json"
MAX_SHARD_SIZE = "5GB"
STABLE = registry.STABLE


def accelerator_for(cfg: TrainConfig) -> Any:
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else cuda
    return Accelerator(cpu=not cuda, mixed_precision="bf16" if bf16 else "no")


def check_resumable(resume: Path, cfg: PretrainConfig) -> None:
    saved = json.loads((resume / CONFIG_FILE).read_text())
    for key, value in cfg.model_dump().items():
        # a field added after the checkpoint was written counts as its default, which that run trained with
        was = saved.get(key, type(cfg).model_fields[key].default)
        if was != value:
            raise InputError(
                f"{resume}: checkpoint was made with {key}={was!r}, this run has "
                f"{key}={value!r}; use the same config to resume, or another --output"
            )


def training_dtype(accelerator: Any) -> torch.dtype:
    """The dtype the model trained in: bf16 under bf16 mixed precision (a GPU by default), else fp32."""
    return torch.bfloat16 if accelerator.mixed_precision == "bf16" else torch.float32


def save_model(model: Any, state_dict: dict[str, torch.Tensor], dtype: torch.dtype, target: Path) -> None:
    """The gathered weights as safetensors in `dtype`, in shards of at most MAX_SHARD_SIZE (an index beside
    them) so a large model never needs one huge file; config.json names the dtype the weights have."""
    weights = {key: value.to(dtype) if value.is_floating_point() else value for key, value in state_dict.items()}
    model.save_pretrained(target, state_dict=weights, safe_serialization=True, max_shard_size=MAX_SHARD_SIZE)
    model.config.dtype = str(dtype).removeprefix("torch.")  # save_pretrained wrote the in-memory (fp32) dtype
    model.config.save_pretrained(target)


def load_model(inputs: PretrainInputs, cfg: PretrainConfig, resume: Path | None, workdir: Path) -> tuple[Any, Any]:
    """(model, tokenizer): a tiny model learns its tokenizer from raw text, or takes the one saved with its
    token shards; any other model brings its own (the stage checked it made the shards)."""
    texts = [doc for corpus in (inputs.data, inputs.replay) if isinstance(corpus, Corpus) for doc in corpus.documents]
    tokenizer_dir = None
    if isinstance(inputs.data, TokenDataset) and inputs.model == model_source.TINY and resume is None:
        tokenizer_dir = workdir / token_shards.TOKENIZER_DIR
        with storage.local_copy(storage.join(inputs.data.uri, token_shards.TOKENIZER_DIR)) as local:
            shutil.copytree(local, tokenizer_dir)
    model, tokenizer = model_source.load(
        inputs.model, texts, seed=cfg.seed, vocab_size=cfg.vocab_size, resume=resume, tokenizer_dir=tokenizer_dir
    )
    shards = [source for source in (inputs.data, inputs.replay) if isinstance(source, TokenDataset)]
    if shards and not manifest.looks_like_path(inputs.model) and inputs.model != model_source.TINY:
        identity = token_shards.loaded_tokenizer_sha256(tokenizer)  # a hub id: its tokenizer is here only now
        for dataset in shards:
            if dataset.tokenizer_sha256 != identity:
                raise InputError(
                    f"{dataset.uri}: tokenized with another tokenizer than {inputs.model}'s; run fmops "
                    "tokenize with this model"
                )
    return model, tokenizer


def packed(tokenizer: Any, source: Corpus | TokenDataset, cfg: PretrainConfig, name: str) -> packing.Packed:
    """Blocks of raw text (tokenized here, in memory) or of token shards (read from storage when trained on)."""
    if isinstance(source, TokenDataset):
        return packing.from_shards(source, cfg.max_length, cfg.held_out_fraction, cfg.eval_blocks, name)
    return packing.pack(tokenizer, source.documents, cfg.max_length, cfg.held_out_fraction, name)


def train(
    inputs: PretrainInputs, cfg: PretrainConfig, output: str, workdir: Path, results_dir: str | None
) -> metrics.PretrainMetrics | None:
    from accelerate.utils import set_seed

    accelerator = accelerator_for(cfg)
    set_seed(cfg.seed)
    root = storage.join(output, "checkpoints")
    latest = checkpoint_store.latest(root)
    if latest:
        checkpoint.verify(latest)  # every file as its marker lists it, before any is read
    resume = checkpoint.fetch_files(latest, workdir) if latest else None  # config and tokenizer, not tensors
    if resume is not None:
        check_resumable(resume, cfg)
    model, tokenizer = load_model(inputs, cfg, resume, workdir)
    data = packed(tokenizer, inputs.data, cfg, "--data")
    replay = packed(tokenizer, inputs.replay, cfg, "--replay") if inputs.replay else None
    if cfg.separate_documents:
        packing.separate_documents(model, tokenizer.eos_token_id)
    stream = Stream(data.train, replay.train if replay else None, cfg.replay_ratio, cfg.seed)
    evals = {"eval_loss": data.held_out, **({"replay_loss": replay.held_out} if replay else {})}
    flops_token = flops.model_flops_per_token(model, cfg.max_length)
    parameters = sum(p.numel() for p in model.parameters())
    replay_blocks = len(replay.train) if replay else 0
    loop.log(
        accelerator,
        f"{parameters:,} parameters; {len(data.train)} training blocks of {cfg.max_length} "
        f"tokens, {len(data.held_out)} held out; {replay_blocks} replay blocks",
    )

    def add_files(directory: Path) -> None:
        tokenizer.save_pretrained(directory / "tokenizer")
        (directory / CONFIG_FILE).write_text(cfg.model_dump_json(indent=2) + "\n")

    def save_stable(trained: Any) -> None:
        state_dict = accelerator.get_state_dict(trained)  # a collective under FSDP: every rank calls it
        if accelerator.is_main_process:
            target = workdir / STABLE if storage.is_remote(output) else storage.local_path(output) / STABLE
            save_model(accelerator.unwrap_model(trained), state_dict, training_dtype(accelerator), target)
            tokenizer.save_pretrained(target)
            storage.upload_dir(target, storage.join(output, STABLE))
            loop.log(accelerator, f"stable-phase model (before the decay) {storage.join(output, STABLE)}")
        accelerator.wait_for_everyone()

    at_stable_end = save_stable if cfg.save_stable_model else None
    model, state = loop.train(
        model,
        stream,
        cfg,
        accelerator,
        evals=evals,
        checkpoint_root=root,
        resume_from=latest,
        add_files=add_files,
        at_stable_end=at_stable_end,
    )
    ranks = accelerator.gather(torch.tensor([state.tokens_per_rank], device=accelerator.device))
    state_dict = accelerator.get_state_dict(model)
    trained = accelerator.unwrap_model(model)
    accelerator.wait_for_everyone()
    del model
    end_distributed(accelerator)
    if not accelerator.is_main_process:
        return None
    target = workdir / "output" if storage.is_remote(output) else storage.local_path(output)
    save_model(trained, state_dict, training_dtype(accelerator), target)
    tokenizer.save_pretrained(target)
    summary = metrics.summarize(
        state,
        flops_per_token=flops_token,
        device=metrics.device_name(accelerator.device),
        world_size=accelerator.num_processes,
        memory=metrics.peak_memory(accelerator.device),
    )
    result = metrics.PretrainMetrics(
        **summary,
        unigram_entropy=data.unigram_entropy,
        forgetting=(summary["replay_loss"] - summary["replay_loss_start"]) if replay else None,
        tokens_per_rank=[int(t) for t in ranks.tolist()],
        parameters=parameters,
        resumed_at=state.resumed_at,
    )
    plot.loss_curve(target / "loss.png", result["history"], result["evals"], ("unigram entropy", data.unigram_entropy))
    if storage.is_remote(output):
        storage.upload_dir(target, output)
    manifest.write_metrics(output, result, results_dir)
    if results_dir:
        shutil.copy(target / "loss.png", Path(results_dir) / "loss.png")
    return result
