"""`fmops evaluate`."""

from fmops.stages.evaluate import add_arguments, run  # noqa: F401
