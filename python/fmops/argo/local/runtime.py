"""What the walks, calls and leaves use of the engine that runs them. fmops.argo.local.engine.Engine is the
one implementation; the modules it calls name this type instead of importing the engine back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from fmops.argo.documents import Scope
from fmops.argo.local.limits import Limits
from fmops.argo.local.nodes import Context, Node


class Runtime(Protocol):
    run_dir: Path
    limits: Limits
    config_map: Callable[[str, str], str] | None
    nodes: dict[str, Node]
    stopping: threading.Event

    @property
    def repository(self) -> Path: ...

    def pool(self, workers: int) -> AbstractContextManager[ThreadPoolExecutor]: ...

    def node(self, node_id: str, template: str, leaf: bool = True) -> Node: ...

    def update(self, node: Node, phase: str, message: str = "") -> Node: ...

    def current(self, variables: dict[str, Any]) -> dict[str, Any]: ...

    def children(self, node: Node) -> list[Node]: ...

    def target(self, scope: Scope, call: dict[str, Any]) -> Scope: ...

    def run(
        self,
        scope: Scope,
        passed: dict[str, str],
        node_id: str,
        context: Context | None = None,
        artifacts: dict[str, Any] | None = None,
    ) -> Node: ...

    def publish_globals(self, template: dict[str, Any], node: Node) -> None: ...

    def skipped_outputs(self, scope: Scope, call: dict[str, Any], node: Node) -> None: ...
