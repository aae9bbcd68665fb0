"""The torch side of `fmops bench pretrain`: one measurement of one model shape, in a process of its own.

`ours`: the stage's own training function, `fmops.training.loop.train()`, with the accelerator the stage
builds (`fmops.training.trainer.accelerator_for`) and, on a GPU, the stage's GPU recipe (`--config gpu`:
compile, Liger, sdpa; on a CPU the default config), fed random tokens through the stage's `Stream`. `baseline`:
transformers' `Trainer` as a practitioner would tune it for throughput (bf16, sdpa, fused AdamW,
torch.compile), the bar the stage's own loop has to clear, with what a CPU cannot do dropped and listed in
`dropped_on_cpu`.
Both see the same model shape and initial weights, the same tokens per optimizer step and sequence length;
the first `warmup` optimizer steps of each are excluded from timing.

Each measurement runs in a fresh child process (`python -m fmops.bench.training_measure ours|baseline
SHAPE RUN OUT`, started by fmops.bench.training one after the other on the same device), because two
measurements in one process contaminate each other: accelerate's AcceleratorState is a process-wide
singleton whose torch.compile (dynamo) plugin is fixed by the first Accelerator created after a reset, and
TrainingArguments resets it and the Trainer leaves it set to inductor, so the stage's Accelerator created
after a Trainer (the next size's `ours`) silently compiles its model — a bench-only path (checked on CPU
with accelerate 1.15, transformers 5.24). TrainingArguments(torch_compile=True) also switches TF32 on for
the whole process. Undoing either would take accelerate's private `_reset_state()`. A fresh process also
makes each peak memory figure (max RSS on CPU) its own. `compiled` records, for both, whether the model
that trained was a torch.compile module.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from typing import Any

import torch
from accelerate.utils import is_compiled_module

from fmops.core import config
from fmops.training import flops, loop, metrics
from fmops.training.config import PretrainConfig
from fmops.training.sampling import Stream
from fmops.training.shutdown import end_distributed
from fmops.training.trainer import accelerator_for

SEED = 0
GPU_RECIPE = "gpu"  # fmops/recipes/pretrain/gpu.yaml: what `ours` trains with on a GPU
SPEED_FIELDS = (
    "tf32",
    "torch_compile",
    "torch_compile_scope",
    "activation_checkpointing",
    "liger",
    "attn_implementation",
)


def build_model(shape: dict[str, Any]) -> Any:
    """A freshly initialised Llama of `shape` (the same weights for every call), sdpa attention, fp32."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(**shape, attn_implementation="sdpa")
    return LlamaForCausalLM(config)


def random_blocks(vocab_size: int, blocks: int, seq_len: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(SEED)
    return torch.randint(0, vocab_size, (blocks, seq_len), generator=generator)


def reset_device(device: torch.device) -> None:
    """Start the peak-memory count here (the process is fresh; this only guards a reuse of the functions)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def measure_ours(shape: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """`loop.train()` as `fmops pretrain` runs it, on random tokens; timing from its own per-step history."""
    total = run["warmup"] + run["steps"]
    recipe = GPU_RECIPE if torch.cuda.is_available() else ""
    # logging_steps = warmup: the loop reads the losses back (a device sync) at the end of the untimed steps
    cfg = config.load(
        PretrainConfig,
        "pretrain",
        recipe,
        max_steps=total,
        max_length=run["seq_len"],
        per_device_train_batch_size=run["batch"],
        gradient_accumulation_steps=1,
        save_steps=0,
        eval_steps=0,
        logging_steps=run["warmup"],
        seed=SEED,
    )
    accelerator = accelerator_for(cfg)
    reset_device(accelerator.device)
    model = build_model(shape)
    stream = Stream(random_blocks(shape["vocab_size"], total * run["batch"], run["seq_len"]), seed=SEED)
    flops_token = flops.model_flops_per_token(model, run["seq_len"])
    parameters = sum(p.numel() for p in model.parameters())
    model, state = loop.train(model, stream, cfg, accelerator)
    timed = state.history[run["warmup"] :]
    tokens, seconds = sum(h.tokens for h in timed), sum(h.seconds for h in timed)
    result = {
        "path": "fmops.training.loop.train (the function `fmops pretrain` runs), "
        + (f"recipe {recipe}" if recipe else "stage default config"),
        "speed": {key: getattr(cfg, key) for key in SPEED_FIELDS},
        "optimizer": state.optimizer,
        "fused": state.fused,
        "precision": accelerator.mixed_precision,
        "micro_batch": cfg.per_device_train_batch_size,
        "grad_accum": cfg.gradient_accumulation_steps,
        "tokens_per_step": cfg.tokens_per_step(accelerator.num_processes),
        "timing": "sum of the loop's per-step seconds after the warm-up (it reads the losses back, a device "
        "sync, at the end of the warm-up and of the run)",
        **_throughput(tokens, seconds, flops_token, accelerator.device, parameters),
        "final_loss": state.history[-1].loss,
        "compiled": is_compiled_module(model) or cfg.torch_compile,  # the loop compiles in place (blocks or model)
    }
    del model
    end_distributed(accelerator)
    return result


def _throughput(tokens: int, seconds: float, flops_token: float, device: Any, parameters: int) -> dict[str, Any]:
    name = metrics.device_name(device)
    tokens_per_s = tokens / seconds if seconds > 0 else 0.0
    memory, kind = metrics.peak_memory(device)
    return {
        "parameters": parameters,
        "timed_tokens": tokens,
        "timed_seconds": seconds,
        "tokens_per_s": tokens_per_s,
        "flops_per_token": flops_token,
        "mfu": flops.mfu(tokens_per_s, flops_token, name),
        "mfu_note": flops.mfu_note(name),
        "peak_memory_gib": memory,
        "peak_memory_kind": kind,
    }


class RandomTokens(torch.utils.data.Dataset):
    """The baseline's data: the same random blocks, as causal-LM examples (labels = inputs)."""

    def __init__(self, blocks: torch.Tensor):
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def trainer_arguments(output_dir: str, run: dict[str, Any], cuda: bool) -> tuple[Any, list[str]]:
    """The throughput-tuned Trainer; on CPU without bf16, compile and fused AdamW (returned as `dropped`)."""
    from transformers import TrainingArguments

    dropped = [] if cuda else ["bf16 (fp32 on CPU)", "torch_compile", "adamw_torch_fused (adamw_torch on CPU)"]
    args = TrainingArguments(
        output_dir=output_dir,
        max_steps=run["warmup"] + run["steps"],
        per_device_train_batch_size=run["batch"],
        gradient_accumulation_steps=1,
        bf16=cuda,
        torch_compile=cuda,
        optim="adamw_torch_fused" if cuda else "adamw_torch",
        use_cpu=not cuda,
        learning_rate=3e-4,
        weight_decay=0.1,
        max_grad_norm=1.0,
        seed=SEED,
        data_seed=SEED,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    return args, dropped


def measure_baseline(shape: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """transformers' Trainer; timed from the end of optimizer step `warmup` to the end of the last one."""
    from transformers import PrinterCallback, Trainer, TrainerCallback

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    reset_device(device)
    marks: dict[str, float] = {}

    class StepClock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step in (run["warmup"], args.max_steps):
                if cuda:
                    torch.cuda.synchronize(device)
                marks.setdefault("start" if state.global_step == run["warmup"] else "end", time.perf_counter())

    model = build_model(shape)
    flops_token = flops.model_flops_per_token(model, run["seq_len"])
    parameters = sum(p.numel() for p in model.parameters())
    blocks = random_blocks(shape["vocab_size"], (run["warmup"] + run["steps"]) * run["batch"], run["seq_len"])
    with tempfile.TemporaryDirectory(prefix="fmops-bench-trainer-") as tmp:
        args, dropped = trainer_arguments(tmp, run, cuda)
        trainer = Trainer(model=model, args=args, train_dataset=RandomTokens(blocks), callbacks=[StepClock()])
        trainer.remove_callback(PrinterCallback)  # it prints the run's summary dict on stdout, under our table
        output = trainer.train()
        compiled = is_compiled_module(trainer.model_wrapped)
    tokens = run["steps"] * run["batch"] * run["seq_len"]
    optim = getattr(args.optim, "value", args.optim)  # an OptimizerNames enum in transformers 5
    result = {
        "path": f"transformers.Trainer, sdpa, bf16={args.bf16}, torch_compile={args.torch_compile}, optim={optim}",
        "precision": "bf16" if args.bf16 else "no",
        "micro_batch": run["batch"],
        "grad_accum": 1,
        "tokens_per_step": run["batch"] * run["seq_len"],
        "dropped_on_cpu": dropped,
        "compiled": compiled,
        "timing": "wall clock from the end of step `warmup` to the end of the last step (device synced)",
        **_throughput(tokens, marks["end"] - marks["start"], flops_token, device, parameters),
        "final_loss": output.training_loss,
    }
    trainer.accelerator.free_memory()
    del trainer, model
    return result


MEASUREMENTS = {"ours": measure_ours, "baseline": measure_baseline}


def main(argv: list[str]) -> int:
    """`python -m fmops.bench.training_measure ours|baseline SHAPE_JSON RUN_JSON OUT`: one measurement."""
    which, shape, run, out = argv[0], json.loads(argv[1]), json.loads(argv[2]), argv[3]
    shape = {**shape, "max_position_embeddings": run["seq_len"]}
    result = MEASUREMENTS[which](shape, run)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with open(out, "w") as file:
        json.dump(
            {**result, "torch_threads": torch.get_num_threads(), "device": metrics.device_name(device), "shape": shape},
            file,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
