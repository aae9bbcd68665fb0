"""`fmops bench`."""

from fmops.bench.command import add_arguments, run  # noqa: F401
