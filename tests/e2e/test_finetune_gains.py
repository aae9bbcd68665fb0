"""What finetuning must buy on the demo, measured on its held-out sets with a small independent scorer.

pretrained -> SFT: exact match on eval/addition.jsonl rises by >= 20 points.
SFT -> DPO: on eval/preference.jsonl the mean margin of the chosen answer's summed log-prob over the rejected
one's widens and preference accuracy holds, and exact match drops by no more than 5 points.
Every model is prompted the same way: its saved tokenizer's chat template, one user turn, generation prompt.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

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
            max_new_tokens=40,
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
def _scores(model_dir: str, eval_dir: str) -> tuple[float, float, float]:
    """Exact match (%), preference accuracy (%) and mean preference margin (nats)."""
    eval_path = Path(eval_dir)
    accuracy, margin = preference(Path(model_dir), _items(eval_path / "preference.jsonl"))
    return exact_match(Path(model_dir), _items(eval_path / "addition.jsonl")), accuracy, margin


@pytest.fixture(scope="module")
def scores(pretrained_model, sft_model, dpo_model, demo_dir) -> dict[str, tuple[float, float, float]]:
    models = {"pretrained": pretrained_model, "sft": sft_model, "dpo": dpo_model}
    measured = {name: _scores(str(path), str(demo_dir / "eval")) for name, path in models.items()}
    for name, (em, pref, margin) in measured.items():
        print(f"{name:>10}: exact match {em:5.1f}%  preference accuracy {pref:5.1f}%  margin {margin:.2f} nats")
    return measured


# Measured 2026-11-28 (benchmarks/finetune-cpu.json): pretrained 0.0% exact match / 71.3% preference, SFT 99.0% /
# 99.7%, DPO 96.7% / 100.0%. The pretrained model does the sums only in its own "a+b=c" text; SFT teaches the chat
# answer "a+b=c". Preference accuracy is at or near its ceiling after SFT (100.0% on an AVX-512 machine on
# 2026-12-07), so what DPO must show is the margin it optimises, not a rise in that share.


def test_sft_raises_exact_match_by_20_points(scores):
    assert scores["sft"][0] >= scores["pretrained"][0] + 20, scores


def test_dpo_widens_the_preference_margin_and_keeps_the_preference(scores):
    assert scores["dpo"][2] > scores["sft"][2], scores
    assert scores["dpo"][1] >= min(scores["sft"][1], 95.0), scores


def test_dpo_keeps_exact_match_within_5_points(scores):
    assert scores["dpo"][0] >= scores["sft"][0] - 5, scores
