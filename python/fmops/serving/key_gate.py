"""The key gate in front of vLLM in a serving pod: `fmops key-gate --port 8000 --upstream URL --api-key-file F`.

vLLM checks its API key only on `/v1` routes; its other routes (`/invocations`, `/tokenize`, admin and debug
routes) answer anyone who reaches the pod. So vLLM listens on loopback and this proxy (fmops.serving.keyed_proxy:
normalised paths only, constant-time key check, capped bodies, streamed replies) is the pod's only port. Open
without the key: `GET /health` (the kubelet's probes) and `GET /metrics` (Prometheus and the endpoint picker,
which the NetworkPolicy lets in). The key comes from a file (the mounted Secret) or $FMOPS_API_KEY, never
from the command line.
"""

from __future__ import annotations

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


def serve_gate(port: int, upstream: str, api_key_file: str) -> int:
    """Serve until stopped; 2 when there is no key to check (a gate that lets everyone in is no gate)."""
    import httpx
    import uvicorn

    from fmops.serving.keyed_proxy import proxy_app

    api_key = read_key(api_key_file)
    if not api_key:
        where = api_key_file or "$FMOPS_API_KEY"
        print(f"fmops key-gate: {where}: no API key; refusing to serve without one", file=sys.stderr)
        return 2
    client = httpx.AsyncClient(base_url=upstream, timeout=None)
    app = proxy_app(api_key, client, open_routes=OPEN_ROUTES)
    uvicorn.run(app, host="0.0.0.0", port=port, log_level="info")  # noqa: S104 - the pod's serving port
    return 0
