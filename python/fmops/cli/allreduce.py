"""`fmops allreduce`."""

from fmops.steps.allreduce import add_arguments, run  # noqa: F401
