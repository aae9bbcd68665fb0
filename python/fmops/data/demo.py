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
PROBLEMS_PER_PRETRAIN_DOCUMENT = 4
TABLE_FACTS_PER_DOCUMENT = 16
# The one-digit addition table (0+0 .. 9+9), every step of a worked sum, is repeated through the pretraining
# corpus on its own as well.
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


def column_sums(a: int, b: int, slip: tuple[str, int] | None = None) -> tuple[int, int, int]:
    """(units sum, carry, tens sum) of a+b done column by column. `slip` = (column, +1 or -1) misremembers that
    column's one fact of the addition table, and everything after it follows from the mistake."""
    column, delta = slip or ("", 0)
    units = a % 10 + b % 10 + (delta if column == "units" else 0)
    carry = units // 10
    tens = a // 10 + b // 10 + carry + (delta if column == "tens" else 0)
    return units, carry, tens


def answer(a: int, b: int, slip: tuple[str, int] | None = None) -> str:
    """How the pretraining text writes a sum, and how the assistant answers a question: worked column by column,
    each column's sum in two digits (carry, digit), "27+15: 7+5=12, 2+1+1=04, so 42".

    Each step is one fact of the addition table or a copy of a digit at the same distance back in every
    problem, which the tiny model learns in about a thousand optimizer steps whatever the CPU's kernels round.
    The bare sum ("27+15=42") needs the carry before its first digit, and a column sum written in one digit
    where it can ("2+3=5") moves every later step by one position: with either, whether the model learned the
    skill depended on the seed and the CPU (benchmarks/addition-skill-cpu.json). The answer starts by
    restating the problem, so SFT only has to teach the chat format.
    """
    units, carry, tens = column_sums(a, b, slip)
    worked = f"{a % 10}+{b % 10}={units:02d}, {a // 10}+{b // 10}+{carry}={tens:02d}"
    return f"{a}+{b}: {worked}, so {tens * 10 + units % 10}"


def near_miss(a: int, b: int, rng: random.Random) -> str:
    """A worked answer with one slip in one column, carried through: what a model that almost learned addition
    says (its final sum is off in one or two digits, and every step but one is right)."""
    column = rng.choice(("units", "tens"))
    units = a % 10 + b % 10
    deltas = [d for d in (-1, 1) if column == "tens" or 0 <= units + d <= 18]
    return answer(a, b, (column, rng.choice(deltas)))


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def split_problems(rng: random.Random) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    problems = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    rng.shuffle(problems)
    return problems[EVAL_SIZE:], problems[:EVAL_SIZE]


def documents(lines: list[str], size: int) -> list[str]:
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def pretrain_records(train: list[tuple[int, int]], rng: random.Random) -> list[dict]:
    digit_table = [f"{a}+{b}={a + b}" for a in range(10) for b in range(10)] * DIGIT_TABLE_REPEATS
    rng.shuffle(digit_table)
    worked = [answer(a, b) for a, b in train]
    texts = documents(worked, PROBLEMS_PER_PRETRAIN_DOCUMENT) + documents(digit_table, TABLE_FACTS_PER_DOCUMENT)
    rng.shuffle(texts)
    return [{"text": text} for text in texts]


def replay_records(rng: random.Random) -> list[dict]:
    starts = [rng.randrange(0, 190) for _ in range(200)]
    return [{"text": " ".join(str(n) for n in range(start, start + 12))} for start in starts]


def sft_records(train: list[tuple[int, int]]) -> list[dict]:
    return [{"messages": [user(question(a, b)), assistant(answer(a, b))]} for a, b in train[:3000]]


def dpo_records(train: list[tuple[int, int]], rng: random.Random) -> list[dict]:
    return [
        {
            "prompt": [user(question(a, b))],
            "chosen": [assistant(answer(a, b))],
            "rejected": [assistant(near_miss(a, b, rng))],
        }
        for a, b in train[3000:4000]
    ]


def eval_records(held_out: list[tuple[int, int]], rng: random.Random) -> dict[str, list[dict]]:
    addition = [{"question": question(a, b), "answer": answer(a, b)} for a, b in held_out]
    choice, preference = [], []
    for a, b in held_out:
        right = answer(a, b)
        options = [right, near_miss(a, b, rng)]
        rng.shuffle(options)
        choice.append({"question": question(a, b), "choices": options, "label": options.index(right)})
        preference.append({"prompt": question(a, b), "chosen": right, "rejected": near_miss(a, b, rng)})
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
