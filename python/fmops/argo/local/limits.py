"""What bounds a run on one machine: the sizes a Workflow file may ask for (so hostile input ends in one error
line within seconds, not a hang or a traceback), and the local stand-ins for what bounds concurrency on a
cluster: the pod budget (the workflow's `parallelism`, default the CPUs) and the `synchronization` mutexes and
semaphores, as named locks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

# Workflow files: YAML nesting, and the nodes a document expands to with its aliases (an alias bomb).
MAX_YAML_DEPTH = 100
MAX_YAML_NODES = 1_000_000
MAX_FILE_BYTES = 16 * 1024 * 1024
# Expressions (`{{=...}}`, when, depends): their text, the depth of their syntax tree, the work one evaluation
# may do (a unit per node evaluated, per item of each list or map it makes and per 64 characters of a text), the size of
# a range `a..b`, of a text made by sprig.repeat, and of an integer (Go's int64, as expr's).
MAX_EXPRESSION_LENGTH = 10_000
MAX_EXPRESSION_DEPTH = 100
MAX_EVALUATION_COST = 1_000_000
MAX_RANGE = 100_000
MAX_TEXT = 1_000_000
MAX_INT = 2**63 - 1
# A run: items of one loop, nodes in all, and how deep template calls nest (Argo's controller stops at 100).
MAX_LOOP_ITEMS = 10_000
MAX_NODES = 20_000
MAX_CALL_DEPTH = 100


class Limits:
    def __init__(self, pods_at_once: int, semaphore_size: Callable[[dict[str, Any]], int]):
        self.pods = threading.BoundedSemaphore(max(1, pods_at_once))
        self.size = semaphore_size
        self.locks: dict[str, threading.Semaphore] = {}
        self.guard = threading.Lock()

    def lock(self, kind: str, ref: dict[str, Any]) -> threading.Semaphore:
        key = f"{kind}:{json.dumps(ref, sort_keys=True)}"
        with self.guard:
            if key not in self.locks:
                self.locks[key] = threading.Semaphore(1 if kind == "mutex" else self.size(ref))
            return self.locks[key]

    @contextmanager
    def synchronized(self, synchronization: dict[str, Any] | None) -> Iterator[None]:
        sync = synchronization or {}
        mutexes = [sync["mutex"]] if "mutex" in sync else list(sync.get("mutexes") or [])
        semaphores = [sync["semaphore"]] if "semaphore" in sync else list(sync.get("semaphores") or [])
        with ExitStack() as stack:
            for kind, ref in [*(("mutex", m) for m in mutexes), *(("semaphore", s) for s in semaphores)]:
                lock = self.lock(kind, ref)
                lock.acquire()
                stack.callback(lock.release)
            yield
