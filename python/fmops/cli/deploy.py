"""`fmops deploy`."""

from fmops.stages.deploy import add_arguments, run  # noqa: F401
