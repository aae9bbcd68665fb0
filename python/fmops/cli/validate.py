"""`fmops validate`."""

from fmops.argo.validate import add_arguments, run  # noqa: F401
