"""A small scorer of the demo's held-out sets, independent of lm-eval: exact match by greedy decoding, and the
preference of the chosen answer over the near miss by summed log-probability. Every model is prompted the same
way: its saved tokenizer's chat template, one user turn, generation prompt."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

BATCH = 100


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _prompt(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )


def _load(model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    return tokenizer, model


@torch.no_grad()
def exact_match(model_dir: Path, items: list[dict]) -> float:
    """Greedy decoding, batched with left padding; the stripped answer must equal the reference."""
    tokenizer, model = _load(model_dir)
    tokenizer.padding_side = "left"
    correct = 0
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        encoded = tokenizer(
            [_prompt(tokenizer, item["question"]) for item in batch],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        generated = model.generate(
            **encoded,
            max_new_tokens=32,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        answers = tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        correct += sum(answer.strip() == item["answer"] for answer, item in zip(answers, batch, strict=True))
    return 100.0 * correct / len(items)


@torch.no_grad()
def completion_logprobs(tokenizer, model, prompts: list[str], completions: list[str]) -> torch.Tensor:
    """Summed log-probability of each completion (its text and the end-of-turn token) after its prompt."""
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    completion_ids = [
        tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for c in completions
    ]
    length = max(len(p) + len(c) for p, c in zip(prompt_ids, completion_ids, strict=True))
    ids = torch.full((len(prompts), length), tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    scored = torch.zeros_like(ids, dtype=torch.bool)
    for row, (p, c) in enumerate(zip(prompt_ids, completion_ids, strict=True)):
        ids[row, : len(p) + len(c)] = torch.tensor(p + c)
        mask[row, : len(p) + len(c)] = 1
        scored[row, len(p) : len(p) + len(c)] = True
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    token_logprobs = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    return (token_logprobs * scored[:, 1:]).sum(-1)


def preference(model_dir: Path, items: list[dict]) -> tuple[float, float]:
    """The share of pairs (in %) where the model gives the chosen answer more summed log-probability than the
    rejected one, and the mean of that log-probability margin (what DPO raises; unlike the share, it has no
    ceiling an SFT model can already reach)."""
    tokenizer, model = _load(model_dir)
    wins, margin = 0, 0.0
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        prompts = [_prompt(tokenizer, item["prompt"]) for item in batch]
        chosen = completion_logprobs(tokenizer, model, prompts, [item["chosen"] for item in batch])
        rejected = completion_logprobs(tokenizer, model, prompts, [item["rejected"] for item in batch])
        wins += int((chosen > rejected).sum())
        margin += float((chosen - rejected).sum())
    return 100.0 * wins / len(items), margin / len(items)


@cache
def scores(model_dir: str, eval_dir: str) -> tuple[float, float, float]:
    """Exact match (%), preference accuracy (%) and mean preference margin (nats)."""
    eval_path = Path(eval_dir)
    accuracy, margin = preference(Path(model_dir), _items(eval_path / "preference.jsonl"))
    return exact_match(Path(model_dir), _items(eval_path / "addition.jsonl")), accuracy, margin


def dpo_reward_accuracy(dpo_output: Path) -> float:
    """TRL's rewards/accuracies over the last quarter of the run's logs (the stage's metrics.json)."""
    return json.loads((dpo_output / "metrics.json").read_text())["rewards/accuracies"]
