"""fmops: Foundation Model Operations on Kubernetes with Argo Workflows."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fmops")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
