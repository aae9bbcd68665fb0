"""`fmops plan`."""

from fmops.steps.plan import add_arguments, run  # noqa: F401
