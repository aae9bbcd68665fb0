"""The torch side of `fmops pretrain`: set up accelerate, model, packed data; train; save the output.

Imported only after the inputs are validated (it imports torch and transformers). Returns the metrics on
rank 0 and None on the other ranks; the stage (fmops.stages.pretrain) then writes the manifest (rank 0 only).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.training import checkpoint, flops, loop, metrics, packing, plot
from fmops.training import model as model_source
from fmops.training.config import PretrainConfig, PretrainInputs, TrainConfig
from fmops.training.sampling import Stream

CONFIG_FILE = "fmops_config.json"
MAX_SHARD_SIZE = "5GB"


def accelerator_for(cfg: TrainConfig) -> Any:
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else cuda
    return Accelerator(cpu=not cuda, mixed_precision="bf16" if bf16 else "no")


def check_resumable(resume: Path, cfg: PretrainConfig) -> None:
    saved = json.loads((resume / CONFIG_FILE).read_text())
    for key, value in cfg.model_dump().items():
        if saved.get(key) != value:
            raise InputError(f"{resume}: checkpoint was made with {key}={saved.get(key)!r}, this run has "
                             f"{key}={value!r}; use the same config to resume, or another --output")  # fmt: skip


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


def pretrain(
    inputs: PretrainInputs, cfg: PretrainConfig, output: str, workdir: Path, results_dir: str | None
) -> dict[str, Any] | None:
    from accelerate.utils import set_seed

    accelerator = accelerator_for(cfg)
    set_seed(cfg.seed)
    root = storage.join(output, "checkpoints")
    latest = checkpoint.latest(root)
    resume = checkpoint.fetch_files(latest, workdir) if latest else None  # config and tokenizer, not tensors
    if resume is not None:
        check_resumable(resume, cfg)
    replay_docs = inputs.replay.documents if inputs.replay else []
    model, tokenizer = model_source.load(inputs.model, [*inputs.data.documents, *replay_docs], seed=cfg.seed,
                                         vocab_size=cfg.vocab_size, resume=resume)  # fmt: skip
    data = packing.pack(tokenizer, inputs.data.documents, cfg.max_length, cfg.held_out_fraction, "--data")
    replay = None
    if replay_docs:
        replay = packing.pack(tokenizer, replay_docs, cfg.max_length, cfg.held_out_fraction, "--replay")
    stream = Stream(data.train, replay.train if replay else None, cfg.replay_ratio, cfg.seed)
    evals = {"eval_loss": data.held_out, **({"replay_loss": replay.held_out} if replay else {})}
    flops_token = flops.model_flops_per_token(model, cfg.max_length)
    parameters = sum(p.numel() for p in model.parameters())
    replay_blocks = len(replay.train) if replay else 0
    loop.log(accelerator, f"{parameters:,} parameters; {len(data.train)} training blocks of {cfg.max_length} "
                          f"tokens, {len(data.held_out)} held out; {replay_blocks} replay blocks")  # fmt: skip

    def add_files(directory: Path) -> None:
        tokenizer.save_pretrained(directory / "tokenizer")
        (directory / CONFIG_FILE).write_text(cfg.model_dump_json(indent=2) + "\n")

    model, state = loop.train(model, stream, cfg, accelerator, evals=evals, checkpoint_root=root,
                              resume_from=latest, add_files=add_files)  # fmt: skip
    ranks = accelerator.gather(torch.tensor([state["tokens_per_rank"]], device=accelerator.device))
    state_dict = accelerator.get_state_dict(model)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        accelerator.end_training()
        return None
    target = workdir / "output" if storage.is_remote(output) else storage.local_path(output)
    save_model(accelerator.unwrap_model(model), state_dict, training_dtype(accelerator), target)
    tokenizer.save_pretrained(target)
    result = metrics.summarize(
        state,
        flops_per_token=flops_token,
        device=metrics.device_name(accelerator.device),
        world_size=accelerator.num_processes,
        memory=metrics.peak_memory(accelerator.device),
    )
    entropy = packing.unigram_entropy(data.train_tokens)
    result.update(
        unigram_entropy=entropy,
        forgetting=(result["replay_loss"] - result["replay_loss_start"]) if replay else None,
        tokens_per_rank=[int(t) for t in ranks.tolist()],
        parameters=parameters,
        resumed_at=state.get("resumed_at", []),
    )  # fmt: skip
    plot.loss_curve(target / "loss.png", state["history"], state["evals"], ("unigram entropy", entropy))
    if storage.is_remote(output):
        storage.upload_dir(target, output)
    manifest.write_metrics(output, result, results_dir)
    if results_dir:
        shutil.copy(target / "loss.png", Path(results_dir) / "loss.png")
    accelerator.end_training()
    return result
