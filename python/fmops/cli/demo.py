"""`fmops demo`."""

from fmops.data.demo import add_arguments, run  # noqa: F401
