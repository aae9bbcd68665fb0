"""`fmops serve`."""

from fmops.stages.serve import add_arguments, run  # noqa: F401
