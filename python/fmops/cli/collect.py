"""`fmops collect`."""

from fmops.steps.collect import add_arguments, run  # noqa: F401
