"""Local stand-ins for what bounds concurrency on a cluster: the pod budget (the workflow's `parallelism`,
default the CPUs) and the `synchronization` mutexes and semaphores, as named locks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any


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
