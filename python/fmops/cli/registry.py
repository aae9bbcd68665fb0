"""`fmops registry`."""

from fmops.steps.registry import add_arguments, run  # noqa: F401
