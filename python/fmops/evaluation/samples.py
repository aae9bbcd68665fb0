"""Per-sample results: one JSON line per evaluated document, the harness's own record made plain.

Each line: task, doc_id, the document, the prompt the model saw, the target, the model's response (the
generated text, or the log-likelihood of each choice) and the sample's metric values.
"""

from __future__ import annotations

import json
from typing import Any


def _plain(value: Any) -> Any:
    """numpy scalars, tuples and the like -> JSON types."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def record(task: str, sample: dict[str, Any]) -> dict[str, Any]:
    arguments = sample.get("arguments") or [[""]]
    metrics = {name: sample[name] for name in sample.get("metrics", []) if name in sample}
    response = sample.get("filtered_resps")
    if isinstance(response, list) and len(response) == 1 and isinstance(response[0], str):
        response = response[0]
    return _plain(
        {
            "task": task,
            "doc_id": sample.get("doc_id"),
            "doc": sample.get("doc"),
            "prompt": arguments[0][0],
            "target": sample.get("target"),
            "response": response,
            "metrics": metrics,
        }
    )


def jsonl(samples: dict[str, list[dict[str, Any]]]) -> str:
    """All tasks' samples as JSONL, tasks in name order, documents in id order."""
    lines = [
        json.dumps(record(task, sample), sort_keys=True, default=str)
        for task in sorted(samples)
        for sample in sorted(samples[task], key=lambda s: s.get("doc_id", 0))
    ]
    return "\n".join(lines) + ("\n" if lines else "")
