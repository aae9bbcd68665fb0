"""`fmops monitor`."""

from fmops.stages.monitor import add_arguments, run  # noqa: F401
