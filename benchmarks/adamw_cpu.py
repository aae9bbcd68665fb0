"""One training step of the tiny model on the CPU with each AdamW implementation (the note in pipeline-cpu.json).

    python benchmarks/adamw_cpu.py default fused loop

Prints milliseconds per step (forward, backward, optimizer step; 4 x 128 tokens; 200 steps after 20 of
warm-up) and the torch thread count.
"""

import sys
import time

import torch
from fmops.data.demo import shipped_dir
from fmops.data.jsonl import iter_records
from fmops.models import tiny

OPTIONS = {"default": {}, "fused": {"fused": True}, "loop": {"foreach": False}}


def main() -> None:
    texts = [record["text"] for _, record in iter_records(str(shipped_dir() / "pretrain.jsonl"))]
    tokenizer = tiny.build_tokenizer(texts)
    for mode in sys.argv[1:] or list(OPTIONS):
        torch.manual_seed(0)
        model = tiny.build_model(tokenizer)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, **OPTIONS[mode])
        batch = torch.randint(0, len(tokenizer) - 1, (4, 128))
        for step in range(220):
            if step == 20:
                started = time.perf_counter()
            model(input_ids=batch, labels=batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        print(f"{mode}: {(time.perf_counter() - started) / 200 * 1000:.2f} ms/step, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
