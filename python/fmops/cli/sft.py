"""`fmops sft`."""

from fmops.stages.sft import add_arguments, run  # noqa: F401
