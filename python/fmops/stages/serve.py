"""Serve a model on localhost with an OpenAI-compatible API: `transformers serve` pinned to the model,
or `vllm serve` where vLLM is installed. Foreground; SIGTERM or Ctrl-C stops it cleanly.

    fmops serve --model registry/models/demo/production --port 8000
    curl http://127.0.0.1:8000/v1/models        # the served model is listed first, under the id to use

--model takes a model directory (an fmops stage output or a plain Hugging Face directory), a registry
pointer (`<root>/models/<name>/production`) or an s3:// URI (downloaded first). The model id is the local
directory's path. Without --api-key any key is accepted; with it, /v1 routes need `Bearer KEY`.
"""

from __future__ import annotations

import argparse
import os

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory, registry pointer or s3:// URI")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--threads", type=lambda text: int(text) if text else 0, default=0,
                        help="torch CPU threads (default: torch's own; 1 suits small models on shared cores)")
    parser.add_argument("--api-key", default=os.environ.get("FMOPS_API_KEY", ""),
                        help="bearer key required on /v1 routes (default: $FMOPS_API_KEY; empty: any key)")


def resolve_model(uri: str) -> str:
    """The model directory behind a path, a registry pointer or a URI; refuses incomplete fmops outputs."""
    if not uri:
        raise InputError("--model: must not be empty")
    model = registry.resolve(uri)
    if not manifest.looks_like_path(model):
        raise InputError(f"{model}: --model must be a model directory or URI (nothing is downloaded)")
    return manifest.require_complete_model(model)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: must be between 1 and 65535")
    if args.threads < 0:
        raise InputError(f"--threads {args.threads}: must not be negative")
    model = resolve_model(args.model)
    if args.threads:  # before torch is imported, so its OpenMP pool is sized once
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    from fmops.serving import local

    with storage.local_copy(model) as directory:
        local.serve(str(directory), args.host, args.port, args.api_key)
    return 0
