"""`fmops bench pretrain`."""

from fmops.bench.pretrain import add_arguments, run  # noqa: F401
