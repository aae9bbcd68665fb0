"""A person watching `fmops run`: a live table of steps on a terminal, one line per change otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from fmops.argo.local.nodes import Node

STYLE = {
    "Pending": "dim",
    "Running": "yellow",
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Skipped": "cyan",
    "Omitted": "dim",
}


def duration(node: Node) -> str:
    seconds = node.seconds
    return "" if seconds is None else f"{seconds:.1f}s"


def steps_table(nodes: list[Node], title: str) -> Table:
    table = Table(title=title, expand=False)
    for column in ("step", "status", "time", "tries", "note"):
        table.add_column(column)
    for node in nodes:
        depth = node.id.count("/")
        style = STYLE.get(node.phase, "")
        note = node.message if node.phase != "Succeeded" or node.message.startswith("reused") else node.result or ""
        tries = str(node.attempts) if node.leaf and node.attempts else ""
        table.add_row(
            "  " * depth + node.id.rsplit("/", 1)[-1],
            f"[{style}]{node.phase}[/]",
            duration(node),
            tries,
            " ".join(note.split())[:80],
        )
    return table


class View:
    """Call `update(node)` on every change; use as a context manager around the run."""

    def __init__(self, title: str):
        self.title = title
        self.console = Console(stderr=True)
        self.nodes: dict[str, Node] = {}
        self.live = Live(console=self.console, refresh_per_second=4) if sys.stderr.isatty() else None
        self.start = time.time()

    def __enter__(self) -> View:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(steps_table(list(self.nodes.values()), self.title))
            self.live.__exit__(*exc)

    def update(self, node: Node) -> None:
        self.nodes[node.id] = node
        if self.live:
            self.live.update(steps_table(list(self.nodes.values()), self.title))
            return
        if node.phase in ("Pending",):
            return
        note = f"  ({node.message})" if node.message and node.phase != "Running" else ""
        elapsed = time.time() - self.start
        print(f"[{elapsed:7.1f}s] {node.id}: {node.phase}{note}", file=sys.stderr, flush=True)
