"""Serve one model on an OpenAI-compatible API in the foreground, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import os

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError
from fmops.serving.engine_options import DEFAULT, EngineOptions


def resolve_model(uri: str) -> str:
    """The model directory behind a path, a registry pointer or a URI; refuses incomplete fmops outputs."""
    if not uri:
        raise InputError("--model: must not be empty")
    model = registry.resolve(uri)
    if not manifest.looks_like_path(model):
        raise InputError(f"{model}: --model must be a model directory or URI (nothing is downloaded)")
    return manifest.require_complete_model(model)


def serve(
    *,
    model: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 0,
    api_key: str = "",
    options: EngineOptions = DEFAULT,
) -> None:
    """Check the inputs, fetch the model when remote, and serve it (fmops.serving.local) until stopped."""
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: must be between 1 and 65535")
    if threads < 0:
        raise InputError(f"--threads {threads}: must not be negative")
    directory = resolve_model(model)
    if threads:  # before torch is imported, so its OpenMP pool is sized once; this process only serves
        os.environ["OMP_NUM_THREADS"] = str(threads)
    from fmops.serving import local

    with storage.local_copy(directory) as local_dir:
        local.serve(str(local_dir), host, port, api_key, options)
