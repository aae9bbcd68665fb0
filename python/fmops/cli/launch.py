"""`fmops launch`."""

from fmops.steps.launch import add_arguments, run  # noqa: F401
