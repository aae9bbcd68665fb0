"""`fmops render`."""

from fmops.argo.render import add_arguments, run  # noqa: F401
