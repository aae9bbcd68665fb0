"""`fmops shards`."""

from fmops.steps.shards import add_arguments, run  # noqa: F401
