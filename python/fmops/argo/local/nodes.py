"""What a run records and what a template runs under: each node's state (one per template that ran, as
Argo's status.nodes), the context a template hands its children, and the error that ends a template."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DONE = ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
BAD = ("Failed", "Error")


@dataclass
class Node:
    id: str
    template: str
    phase: str = "Pending"
    started: float | None = None
    finished: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # output parameters
    message: str = ""
    attempts: int = 0
    log: str = ""
    leaf: bool = True
    result: str | None = None  # outputs.result: the main process's stdout
    exit_code: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)  # output artifact -> local path

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


@dataclass
class Context:
    """What a template runs under: its variables, its deadline, the bound on its running children, and how
    many templates call it in turn (the entrypoint: 0)."""

    variables: dict[str, Any]
    deadline: float | None = None
    children: threading.Semaphore | None = None
    depth: int = 0


class TemplateError(Exception):
    """A DAG or steps template that cannot go on as written (a dag.target naming no task, a dependency on
    an unknown task, a cycle): its node ends in Error with this message, and the rest of the run goes on."""


def timestamp(seconds: float | None) -> str:
    return "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
