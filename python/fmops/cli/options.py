"""Options every stage command shares: `--config RECIPE|FILE` and repeatable `--set KEY=VALUE`."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from fmops.core import config
from fmops.core.config import StageConfig
from fmops.core.errors import InputError

C = TypeVar("C", bound=StageConfig)
N = TypeVar("N", int, float)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default="",
        help="a recipe name shipped with fmops (see fmops/recipes/) or a YAML file/URI of overrides",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field (YAML value); repeatable; applied last",
    )


def load_config(cls: type[C], stage: str, args: argparse.Namespace, **flags: Any) -> C:
    """The stage's config from defaults, `--config`, the explicit flags given (None = not given), then `--set`."""
    return config.load(cls, stage, args.config, args.overrides, **flags)


def optional_number(flag: str, text: str, kind: type[N]) -> N | None:
    """A number flag the templates pass as '' when unset: '' -> None, else the number, or one line naming it."""
    if text == "":
        return None
    try:
        return kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise InputError(f"{flag} {text}: expected {expected}") from None
