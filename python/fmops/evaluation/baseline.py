"""The outputs the gate reads: a candidate's evaluation, a baseline's, and a training run's forgetting.

A baseline is given as an `fmops evaluate` output (a directory with metrics.json and manifest.json), or as
a registry version or pointer (`<root>/models/<name>/production`) whose directory holds
`evaluation/metrics.json` (deploy copies the evaluation there). '' means none; a pointer that does not exist
yet (the first run of a pipeline, before anything is in production) also means none, and says so.

Two evaluations are compared only when they were made the same way: `fmops evaluate` writes settings.json
(run-wide limit, apply_chat_template and backend; per task its lm-eval version and the few-shot count used,
see fmops.evaluation.evaluate) and `require_comparable` refuses a pair whose settings differ for a compared task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError, where

SETTINGS = "settings.json"
RUN_WIDE = ("limit", "apply_chat_template", "backend")
PER_TASK = ("version", "n-shot")


@dataclass(frozen=True)
class Results:
    """Metrics of one evaluation (task -> metric -> {value, stderr, samples}), how it was made and where."""

    uri: str
    metrics: dict[str, dict[str, dict[str, Any]]]
    settings: dict[str, Any] | None = None
    """settings.json; None for an evaluation made by an fmops that did not write one."""

    def entry(self, key: str) -> dict[str, Any] | None:
        task, _, metric = key.partition("/")
        return self.metrics.get(task, {}).get(metric)

    def value(self, key: str) -> float | None:
        """`task/metric` -> value, or None when the evaluation does not have it."""
        entry = self.entry(key)
        return None if entry is None else entry.get("value")

    def stderr(self, key: str) -> float | None:
        """`task/metric` -> its standard error, or None when lm-eval gave none."""
        entry = self.entry(key)
        return None if entry is None else entry.get("stderr")

    def higher_is_better(self, key: str) -> bool | None:
        """`task/metric` -> its direction as lm-eval reported it, or None when the evaluation does not say."""
        entry = self.entry(key)
        return None if entry is None else entry.get("higher_is_better")

    def tags(self, task: str) -> list[str]:
        """The fmops tags of `task` as settings.json records them ([] when it does not)."""
        recorded = ((self.settings or {}).get("tasks") or {}).get(task) or {}
        tags = recorded.get("tags") if isinstance(recorded, dict) else None
        return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []

    def keys(self) -> list[str]:
        return [f"{task}/{metric}" for task, metrics in sorted(self.metrics.items()) for metric in sorted(metrics)]


def _read(uri: str) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        data = json.loads(storage.read_text(uri))
    except json.JSONDecodeError as error:
        raise InputError(f"{uri}:{error.lineno}: not valid JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{uri}: not UTF-8 text (byte {error.start})") from None
    if not isinstance(data, dict):
        raise InputError(f"{uri}: expected task -> metric -> value (an fmops evaluate metrics.json)")
    for task, metrics in data.items():
        if not isinstance(metrics, dict):
            raise InputError(f"{where(uri, field=task)}: expected metric -> {{value, stderr, samples}}")
        for metric, entry in metrics.items():
            _check_entry(uri, f"{task}/{metric}", entry)
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_entry(uri: str, key: str, entry: Any) -> None:
    """One metric's entry has the shape evaluate writes. NaN and infinity are numbers here: the rules fail them,
    so the decision names them rather than refusing the whole evaluation."""
    if not isinstance(entry, dict):
        raise InputError(f"{where(uri, field=key)}: expected {{value, stderr, samples}}, got {_shown(entry)}")
    if "value" not in entry:
        raise InputError(f"{where(uri, field=key + '/value')}: missing")
    if not _is_number(entry["value"]):
        raise InputError(f"{where(uri, field=key + '/value')}: {_shown(entry['value'])} is not a number")
    stderr = entry.get("stderr")
    if stderr is not None and not _is_number(stderr):
        raise InputError(f"{where(uri, field=key + '/stderr')}: {_shown(stderr)} is not a number or null")
    samples = entry.get("samples")
    if samples is not None and not (isinstance(samples, int) and not isinstance(samples, bool)):
        raise InputError(f"{where(uri, field=key + '/samples')}: {_shown(samples)} is not an integer")
    direction = entry.get("higher_is_better")
    if direction is not None and not isinstance(direction, bool):
        field = key + "/higher_is_better"
        raise InputError(f"{where(uri, field=field)}: {_shown(direction)} is not true, false or null")


def _read_settings(uri: str) -> dict[str, Any] | None:
    if not storage.exists(uri):
        return None
    settings = storage.read_json_record(uri, "evaluation settings", "tasks", dict)
    for key in RUN_WIDE:
        if key not in settings:
            raise InputError(f"{where(uri, field=key)}: missing")
    return settings


def complete_output(uri: str, stage: str, noun: str) -> None:
    """`uri` is a finished fmops `stage` output (its manifest.json, written last, is there); `noun` names it."""
    if not storage.isdir(uri):
        raise InputError(f"{uri}: {noun} output does not exist")
    names = set(storage.listdir(uri))
    if manifest.METRICS not in names:
        raise InputError(f"{uri}: not an {noun} output (no {manifest.METRICS})")
    if manifest.MANIFEST not in names:
        raise InputError(f"{uri}: incomplete fmops output (no {manifest.MANIFEST}); the {noun} did not finish")
    found = manifest.read(uri).get("stage")
    if found != stage:
        raise InputError(f"{uri}: an fmops {found} output, expected an fmops {stage} output")


def evaluation(uri: str) -> Results:
    """A complete `fmops evaluate` output (metrics.json and manifest.json, stage evaluate)."""
    complete_output(uri, "evaluate", "evaluation")
    metrics = _read(storage.join(uri, manifest.METRICS))
    return Results(uri=uri, metrics=metrics, settings=_read_settings(storage.join(uri, SETTINGS)))


def is_pointer(uri: str) -> bool:
    return uri.rstrip("/").rpartition("/")[2] in registry.POINTERS


def load(uri: str) -> tuple[Results | None, str]:
    """(baseline results or None, a sentence saying which baseline is used, or why there is none)."""
    if not uri:
        return None, "no baseline given"
    if is_pointer(uri) and not storage.exists(uri):
        return None, f"baseline pointer {uri} does not exist yet"
    resolved = registry.resolve(uri)
    nested = storage.join(resolved, "evaluation")
    if storage.exists(storage.join(nested, manifest.METRICS)):
        results = evaluation(nested)
    else:
        results = evaluation(resolved)
    return results, f"baseline {results.uri}"


def _shown(value: Any, limit: int = 60) -> str:
    """A value as JSON on one line, cut short: a hostile file's value must not flood the message."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_comparable(candidate: Results, base: Results, tasks: set[str], against: str = "baseline") -> None:
    """Refuse to compare `tasks` (those regression rules name) unless both evaluated the same ones the same way;
    `against` names `base`'s role (baseline or parent) in the messages."""
    for results, role in ((candidate, "candidate"), (base, against)):
        if results.settings is None:
            raise InputError(
                f"{results.uri}: the {role} evaluation has no {SETTINGS} (made by an older fmops); "
                "re-evaluate it with this fmops to compare with it"
            )
    for task in sorted(tasks):
        present = {role: task in results.metrics for results, role in ((candidate, "candidate"), (base, against))}
        if present["candidate"] != present[against]:
            only = "candidate" if present["candidate"] else against
            raise InputError(f"{task}: evaluated by the {only} only; evaluate both on the same tasks to compare")
        if not present["candidate"]:
            continue
        for key in RUN_WIDE + PER_TASK:
            ours, theirs = (_setting(results, task, key) for results in (candidate, base))
            if ours != theirs:
                raise InputError(
                    f"{task}: {key} differs: candidate {_shown(ours)}, {against} {_shown(theirs)} "
                    f"({base.uri}); evaluate both with the same settings"
                )


def _setting(results: Results, task: str, key: str) -> Any:
    assert results.settings is not None
    if key in RUN_WIDE:
        return results.settings[key]
    return results.settings["tasks"].get(task, {}).get(key)


def forgetting(uri: str) -> float | None:
    """An `fmops pretrain` output's forgetting: replay loss at the end minus at the start; None without replay."""
    complete_output(uri, "pretrain", "fmops pretrain")
    metrics_uri = storage.join(uri, manifest.METRICS)
    metrics = storage.read_json_record(metrics_uri, "training metrics", "steps", int)
    assert metrics is not None
    if "forgetting" not in metrics:
        raise InputError(f"{where(metrics_uri, field='forgetting')}: missing (an fmops pretrain metrics.json has it)")
    value = metrics["forgetting"]
    if value is not None and not isinstance(value, int | float):
        raise InputError(f"{where(metrics_uri, field='forgetting')}: {value!r} is not a number or null")
    return value
