"""Options every stage command shares: `--config RECIPE|FILE` and repeatable `--set KEY=VALUE`."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from fmops.core import config
from fmops.core.config import StageConfig

C = TypeVar("C", bound=StageConfig)


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
