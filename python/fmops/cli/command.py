"""What every command module offers the `fmops` entry point: per command, its help text, flags and run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    description: str
    """The `--help` text: what the command does, how to call it, where its manual is."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    """Parses nothing itself: turns the parsed flags into one call of the function that does the work."""
