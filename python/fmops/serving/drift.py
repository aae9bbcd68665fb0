"""Drift of a served model over time: a JSONL history of monitoring records and the checks against it.

A record: {"time", "endpoint", "model_name", "quality": {"task/metric": value}, "latency": {"ttft_ms_p95",
"latency_ms_p95", "output_tokens_per_s", "errors"}}. The reference is the mean of the last `window`
records of the same model name; with no reference yet, only the error count can alert.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError

LATENCY_KEYS = ("ttft_ms_p95", "latency_ms_p95")


def read_history(uri: str) -> list[dict[str, Any]]:
    if not storage.exists(uri):
        return []
    records = []
    for number, line in enumerate(storage.read_text(uri).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{uri}:{number}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("quality"), dict):
            raise InputError(f"{uri}:{number}: field 'quality': missing or not an object")
        records.append(record)
    return records


def append(uri: str, records: list[dict[str, Any]], record: dict[str, Any]) -> None:
    """Rewrite the history with one more line (object stores have no append; the write is atomic)."""
    lines = [json.dumps(r, sort_keys=True) for r in [*records, record]]
    storage.atomic_write_text(uri, "\n".join(lines) + "\n")


def reference(records: list[dict[str, Any]], model_name: str, window: int) -> dict[str, Any] | None:
    """Mean quality and latency of the last `window` records of `model_name`; None when there are none."""
    recent = [r for r in records if r.get("model_name") == model_name][-window:]
    if not recent:
        return None

    def mean(section: str, key: str) -> float | None:
        values = [r[section][key] for r in recent if isinstance(r.get(section, {}).get(key), int | float)]
        return statistics.fmean(values) if values else None

    quality = {key: mean("quality", key) for key in {k for r in recent for k in r["quality"]}}
    latency = {key: mean("latency", key) for key in LATENCY_KEYS}
    return {"records": len(recent), "quality": quality, "latency": latency}


def alerts(
    record: dict[str, Any], ref: dict[str, Any] | None, *, quality_drop: float, latency_increase: float, max_errors: int
) -> list[str]:
    """One line per threshold passed: a quality metric fell, a latency grew, requests failed."""
    found = []
    errors = record["latency"].get("errors") or 0
    if errors > max_errors:
        found.append(f"errors: {errors} failed requests (threshold {max_errors})")
    if ref is None:
        return found
    for key, value in sorted(record["quality"].items()):
        before = ref["quality"].get(key)
        if before is not None and value is not None and before - value > quality_drop:
            found.append(
                f"{key}: {value:.4f} is {before - value:.4f} below the reference {before:.4f} "
                f"(threshold {quality_drop})"
            )
    for key in LATENCY_KEYS:
        before, value = ref["latency"].get(key), record["latency"].get(key)
        if before and value is not None and value / before - 1 > latency_increase:
            found.append(
                f"{key}: {value:.1f} ms is {value / before - 1:.0%} above the reference "
                f"{before:.1f} ms (threshold {latency_increase:.0%})"
            )
    return found


def markdown(report: dict[str, Any]) -> str:
    """This run against the reference, one row per metric, then the alerts."""
    record, ref = report["record"], report["reference"] or {"quality": {}, "latency": {}, "records": 0}
    rows = [(key, value, ref["quality"].get(key)) for key, value in sorted(record["quality"].items())]
    rows += [(key, record["latency"].get(key), ref["latency"].get(key)) for key in LATENCY_KEYS]
    lines = [
        f"# Drift of {record['model_name']} at {record['time']}",
        "",
        f"Reference: mean of the last {ref['records']} records of this model.",
        "",
        "| metric | now | reference |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {key} | {_cell(now)} | {_cell(before)} |" for key, now, before in rows]
    lines += ["", "## Alerts", ""] + ([f"- {line}" for line in report["alerts"]] or ["none"])
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"
