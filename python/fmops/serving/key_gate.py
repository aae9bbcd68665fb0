"""The key gate in front of vLLM in a serving pod: `python -m fmops.serving.key_gate --port 8000 --upstream URL`.

vLLM checks its API key only on `/v1` routes; its other routes (`/invocations`, `/tokenize`, admin and debug
routes) answer anyone who reaches the pod. So vLLM listens on loopback and this proxy (fmops.serving.keyed_proxy:
normalised paths only, constant-time key check, capped bodies, streamed replies) is the pod's only port. Open
without the key: `GET /health` (the kubelet's probes) and `GET /metrics` (Prometheus and the endpoint picker,
which the NetworkPolicy lets in). The key comes from a file (the mounted Secret) or $FMOPS_API_KEY, never
from the command line.
"""

from __future__ import annotations

import argparse
import os
import sys

OPEN_ROUTES = frozenset({("GET", "/health"), ("HEAD", "/health"), ("GET", "/metrics")})


def read_key(path: str) -> str:
    if not path:
        return os.environ.get("FMOPS_API_KEY", "").strip()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    import httpx
    import uvicorn

    from fmops.serving.keyed_proxy import proxy_app

    parser = argparse.ArgumentParser(prog="python -m fmops.serving.key_gate", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (all interfaces)")
    parser.add_argument("--upstream", default="http://127.0.0.1:8001", help="vLLM's loopback base URL")
    parser.add_argument("--api-key-file", default="", help="file holding the key; else $FMOPS_API_KEY")
    args = parser.parse_args(argv)
    api_key = read_key(args.api_key_file)
    if not api_key:
        where = args.api_key_file or "$FMOPS_API_KEY"
        print(f"fmops.serving.key_gate: {where}: no API key; refusing to serve without one", file=sys.stderr)
        return 2
    upstream = httpx.AsyncClient(base_url=args.upstream, timeout=None)
    app = proxy_app(api_key, upstream, open_routes=OPEN_ROUTES)
    uvicorn.run(app, host="0.0.0.0", port=args.port, log_level="info")  # noqa: S104 - the pod's serving port
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
