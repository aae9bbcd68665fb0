"""Every shipped recipe resolves against its stage's config (an unknown key fails, in a recipe or in the base
it includes), and each sized recipe (`<N>b-h100x<GPUS>[-lora]`) keeps what its header says: the launch line,
the tokens per step, and a memory per GPU that a coarse, independent estimate puts within 2x, under 80 GiB."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fmops.core import config
from fmops.core.errors import InputError
from fmops.curate.config import CurateConfig
from fmops.evaluation.rules import Rules
from fmops.finetune.config import DPOStageConfig, SFTStageConfig
from fmops.training.config import PretrainConfig

RECIPES = Path(str(resources.files("fmops") / "recipes"))
CONFIGS = {
    "pretrain": PretrainConfig,
    "sft": SFTStageConfig,
    "dpo": DPOStageConfig,
    "gate": Rules,
    "curate": CurateConfig,
}
SIZED = re.compile(r"(?P<billions>\d+)b-h100x(?P<gpus>\d+)(-lora)?")
EXPECT = re.compile(r"^# expect: gpus=(\d+) tokens_per_step=(\d+) memory_per_gpu_gib=(\d+)$", re.MULTILINE)
LAUNCH = re.compile(r"fmops launch --nodes (\d+) --gpus-per-node (\d+) --strategy (\w+) -- (\w+) .*?--config (\S+)")
H100_GIB = 80
# Transformer blocks and hidden width of the Llama 3 model each size in a recipe name stands for.
SHAPES = {1: (16, 2048), 8: (32, 4096), 70: (80, 8192)}

ALL = sorted(RECIPES.glob("*/*.yaml"))
SIZED_RECIPES = [path for path in ALL if SIZED.fullmatch(path.stem)]


def name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def load(path: Path) -> Any:
    stage = path.parent.name
    return config.load(CONFIGS[stage], stage, path.stem)


@dataclass(frozen=True)
class Header:
    gpus: int
    tokens_per_step: int
    memory_per_gpu_gib: int
    nodes: int
    gpus_per_node: int
    strategy: str
    stage: str
    recipe: str


def header(path: Path) -> Header:
    """The numbers the recipe's leading comment promises: its `# expect:` line and its launch line."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    expect = EXPECT.search("\n".join(lines))
    assert expect, f"{name(path)}: no '# expect: gpus=N tokens_per_step=N memory_per_gpu_gib=N' line"
    launch = LAUNCH.search(" ".join(line.lstrip("# ").rstrip("\\ ") for line in lines))
    assert launch, f"{name(path)}: no 'fmops launch --nodes N --gpus-per-node N --strategy S -- STAGE' line"
    nodes, per_node, strategy, stage, recipe = launch.groups()
    return Header(*map(int, expect.groups()), int(nodes), int(per_node), strategy, stage, recipe)


def checkpointed(cfg: Any) -> bool:
    return cfg.activation_checkpointing != "none" if isinstance(cfg, PretrainConfig) else cfg.gradient_checkpointing


def rough_memory_gib(stage: str, billions: int, strategy: str, gpus: int, cfg: Any) -> float:
    """Weights, gradients and AdamW moments, sharded or not, plus activations; coarser than the headers'
    arithmetic on purpose (round parameter counts, one activation rule for every block)."""
    sharded = strategy in ("fsdp2", "zero3")
    if getattr(cfg, "lora", False):
        per_parameter = 2  # the frozen bf16 base; the adapters are a few percent
    elif stage == "pretrain" or sharded:
        per_parameter = 16  # fp32 weights and gradients and two fp32 moments (FSDP2 upcasts a bf16 model)
    else:
        per_parameter = 8  # one process trains the bf16 model as loaded: bf16 weights, gradients, moments
    if stage == "dpo":
        per_parameter += 2  # the bf16 reference model
    states = billions * 1e9 * per_parameter / (gpus if sharded else 1)
    blocks, hidden = SHAPES[billions]
    tokens = cfg.max_length * cfg.per_device_train_batch_size * (2 if stage == "dpo" else 1)  # DPO: both answers
    block = 34 * hidden * tokens  # bytes one block keeps in 16-bit without attention scores (Korthikanti et al.)
    activations = 2 * hidden * tokens * blocks + block if checkpointed(cfg) else block * blocks
    return (states + activations) / 2**30


def test_every_stage_folder_has_its_config():
    assert {path.name for path in RECIPES.iterdir() if path.is_dir()} == set(CONFIGS)


@pytest.mark.parametrize("path", ALL, ids=name)
def test_recipe_resolves_against_its_stage_config(path):
    assert config.recipe_uri(path.parent.name, path.stem) == str(path)
    assert isinstance(load(path), CONFIGS[path.parent.name])


@pytest.mark.parametrize("stage", ["pretrain", "sft", "dpo"])
@pytest.mark.parametrize("typo_in", ["8b-h100x8.yaml", "base.yaml"])
def test_a_typo_fails_naming_the_file_it_is_in(tmp_path, stage, typo_in):
    copy = shutil.copytree(RECIPES / stage, tmp_path / stage)
    with (copy / typo_in).open("a") as file:
        file.write("learning_rte: 1.0e-4\n")
    with pytest.raises(InputError, match=rf"^{copy / typo_in}: field 'learning_rte': unknown field$"):
        config.load(CONFIGS[stage], stage, str(copy / "8b-h100x8.yaml"))


def test_each_stage_has_every_size():
    for stage in ("pretrain", "sft", "dpo"):
        names = {path.stem for path in SIZED_RECIPES if path.parent.name == stage}
        assert {"1b-h100x1", "8b-h100x8", "70b-h100x32"} <= names, stage


@pytest.mark.parametrize("path", SIZED_RECIPES, ids=name)
def test_launch_line_and_tokens_per_step(path):
    promised, cfg = header(path), load(path)
    assert (promised.stage, promised.recipe) == (path.parent.name, path.stem)
    assert promised.gpus == promised.nodes * promised.gpus_per_node == int(SIZED.fullmatch(path.stem)["gpus"])
    if promised.gpus > 1:
        assert promised.gpus_per_node == 8  # one H100 node
    tokens = cfg.max_length * cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * promised.gpus
    assert tokens == promised.tokens_per_step


@pytest.mark.parametrize("path", SIZED_RECIPES, ids=name)
def test_memory_per_gpu_is_plausible_and_fits_an_h100(path):
    promised, cfg = header(path), load(path)
    billions = int(SIZED.fullmatch(path.stem)["billions"])
    rough = rough_memory_gib(path.parent.name, billions, promised.strategy, promised.gpus, cfg)
    assert promised.memory_per_gpu_gib / 2 <= rough <= promised.memory_per_gpu_gib * 2
    assert rough < H100_GIB and promised.memory_per_gpu_gib < H100_GIB


def test_the_estimate_can_refuse_a_recipe():
    """70B SFT without gradient checkpointing would keep every block's activations: no H100 holds that."""
    cfg = load(RECIPES / "sft" / "70b-h100x32.yaml").model_copy(update={"gradient_checkpointing": False})
    assert rough_memory_gib("sft", 70, "fsdp2", 32, cfg) > H100_GIB


def test_a_recipe_given_as_a_uri_finds_its_base_beside_it(tmp_path):
    copy = shutil.copytree(RECIPES / "pretrain", tmp_path / "pretrain")
    cfg = config.load(PretrainConfig, "pretrain", f"file://{copy / '70b-h100x32.yaml'}")
    assert (cfg.activation_checkpointing, cfg.replay_ratio, cfg.liger) == ("full", 0.05, True)  # 3 files deep


def test_a_recipe_that_includes_itself_is_one_line(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(InputError, match=rf"^{tmp_path / 'a.yaml'}: includes itself \(through .*b\.yaml\)$"):
        config.load(PretrainConfig, "pretrain", str(tmp_path / "a.yaml"))
