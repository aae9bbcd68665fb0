"""`fmops gate`."""

from fmops.stages.gate import add_arguments, run  # noqa: F401
