"""The demo datasets: one synthetic skill, two-digit addition, checkable exactly, generated deterministically
from a seed (the same bytes every time). FILES names each file and what reads it; problems held out for
evaluation never appear in any training file.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

from fmops.core import storage

SEED = 1234
EVAL_SIZE = 300
PROBLEMS_PER_PRETRAIN_LINE = 16
# The one-digit addition table (0+0 .. 9+9) is repeated through the pretraining corpus: the units digit of every
# two-digit sum is a one-digit sum mod 10, and a tiny model that has not found that lookup leaves the units
# digit at chance (benchmarks/addition-skill-cpu.json).
DIGIT_TABLE_REPEATS = 20
FILES = {
    "pretrain.jsonl": "pretraining corpus (fmops pretrain --data)",
    "replay.jsonl": "replay of an earlier corpus (fmops pretrain --replay)",
    "sft.jsonl": "instruction tuning conversations (fmops sft --data)",
    "dpo.jsonl": "preference pairs, near-miss rejections (fmops dpo --data)",
    "eval/addition.jsonl": "held-out exact-match generation task (fmops evaluate, demo_addition)",
    "eval/choice.jsonl": "held-out log-likelihood multiple choice (fmops evaluate, demo_choice)",
    "eval/preference.jsonl": "held-out preference pairs (fmops evaluate, demo_preference)",
}


def question(a: int, b: int) -> str:
    """The one prompt format every phase and every evaluation uses for a problem."""
    return f"What is {a}+{b}?"


def equation(a: int, b: int, total: int) -> str:
    """How the pretraining text writes a sum, and how the assistant answers a question: "22+13=35".

    The answer restates the problem: the model then finds the operands right before "=" as in pretraining,
    and SFT only has to teach the chat format (answering with the bare sum, SFT had to re-learn the
    arithmetic at new positions and kept 3-36% of it; restated, 89-100%: benchmarks/addition-skill-cpu.json).
    """
    return f"{a}+{b}={total}"


def near_miss(total: int, rng: random.Random) -> int:
    """The sum with one digit off by one: what a model that almost learned addition says."""
    digits = list(str(total))
    position = rng.randrange(len(digits))
    digit = int(digits[position])
    choices = [d for d in (digit - 1, digit + 1) if 0 <= d <= 9 and not (position == 0 and d == 0 and len(digits) > 1)]
    digits[position] = str(rng.choice(choices))
    return int("".join(digits))


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def split_problems(rng: random.Random) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    problems = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    rng.shuffle(problems)
    return problems[EVAL_SIZE:], problems[:EVAL_SIZE]


def equation_blocks(problems: list[tuple[int, int]]) -> list[str]:
    lines = [equation(a, b, a + b) for a, b in problems]
    size = PROBLEMS_PER_PRETRAIN_LINE
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def pretrain_records(train: list[tuple[int, int]], rng: random.Random) -> list[dict]:
    digit_table = [(a, b) for a in range(10) for b in range(10)] * DIGIT_TABLE_REPEATS
    rng.shuffle(digit_table)
    blocks = equation_blocks(train) + equation_blocks(digit_table)
    rng.shuffle(blocks)
    return [{"text": block} for block in blocks]


def replay_records(rng: random.Random) -> list[dict]:
    starts = [rng.randrange(0, 190) for _ in range(200)]
    return [{"text": " ".join(str(n) for n in range(start, start + 12))} for start in starts]


def sft_records(train: list[tuple[int, int]]) -> list[dict]:
    return [{"messages": [user(question(a, b)), assistant(equation(a, b, a + b))]} for a, b in train[:3000]]


def dpo_records(train: list[tuple[int, int]], rng: random.Random) -> list[dict]:
    return [
        {
            "prompt": [user(question(a, b))],
            "chosen": [assistant(equation(a, b, a + b))],
            "rejected": [assistant(equation(a, b, near_miss(a + b, rng)))],
        }
        for a, b in train[3000:4000]
    ]


def eval_records(held_out: list[tuple[int, int]], rng: random.Random) -> dict[str, list[dict]]:
    addition = [{"question": question(a, b), "answer": equation(a, b, a + b)} for a, b in held_out]
    choice, preference = [], []
    for a, b in held_out:
        right = equation(a, b, a + b)
        options = [right, equation(a, b, near_miss(a + b, rng))]
        rng.shuffle(options)
        choice.append({"question": question(a, b), "choices": options, "label": options.index(right)})
        preference.append(
            {"prompt": question(a, b), "chosen": right, "rejected": equation(a, b, near_miss(a + b, rng))}
        )
    return {"eval/addition.jsonl": addition, "eval/choice.jsonl": choice, "eval/preference.jsonl": preference}


def generate(seed: int = SEED) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    train, held_out = split_problems(rng)
    return {
        "pretrain.jsonl": pretrain_records(train, rng),
        "replay.jsonl": replay_records(rng),
        "sft.jsonl": sft_records(train),
        "dpo.jsonl": dpo_records(train, rng),
        **eval_records(held_out, rng),
    }


def write(output: str, *, seed: int = SEED) -> dict[str, str]:
    """Write every file of FILES under `output` (a path or URI); returns name -> URI."""
    written = {}
    for name, records in generate(seed).items():
        uri = storage.join(output, name)
        storage.atomic_write_text(uri, "".join(json.dumps(record) + "\n" for record in records))
        written[name] = uri
    return written


def shipped_dir() -> Path:
    """The demo data as shipped inside the package (generated by `fmops demo --output` with the default seed)."""
    return Path(str(resources.files("fmops") / "data" / "demo"))
