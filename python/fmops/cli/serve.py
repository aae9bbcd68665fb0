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

from fmops.serving.serve import serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory, registry pointer or s3:// URI")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--threads", type=lambda text: int(text) if text else 0, default=0,
                        help="torch CPU threads (default: torch's own; 1 suits small models on shared cores)")
    parser.add_argument("--api-key", default=os.environ.get("FMOPS_API_KEY", ""),
                        help="bearer key required on /v1 routes (default: $FMOPS_API_KEY; empty: any key)")


def run(args: argparse.Namespace) -> int:
    serve(model=args.model, host=args.host, port=args.port, threads=args.threads, api_key=args.api_key)
    return 0
