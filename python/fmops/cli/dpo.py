"""`fmops dpo`."""

from fmops.stages.dpo import add_arguments, run  # noqa: F401
