"""`fmops run`."""

from fmops.argo.local.command import add_arguments, run  # noqa: F401
