"""`fmops bench serve`."""

from fmops.bench.serve import add_arguments, run  # noqa: F401
