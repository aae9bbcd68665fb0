"""`fmops pretrain`."""

from fmops.stages.pretrain import add_arguments, run  # noqa: F401
