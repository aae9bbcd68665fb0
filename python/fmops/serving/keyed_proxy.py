"""The API-key gate in front of a local model server that has no key option of its own (`transformers serve`).

It checks the path it forwards, not a path the HTTP client would rewrite: a request path that is not already
normalised (empty, `.` or `..` segments, percent-escapes, characters outside RFC 3986's segment set) is
refused with 400, so `//x/v1/...`, `/health/../v1/...` and `/%2e%2e/v1/...` never reach the model unkeyed.
Every route but `GET /health` (the readiness probe) needs `Authorization: Bearer KEY` (the scheme in any
case, the key compared in constant time), and a request body is capped before it is read whole.
"""

from __future__ import annotations

import hmac
import re

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# A chat request with a long context is a few MiB of JSON; nothing the served APIs take comes near this.
MAX_BODY_BYTES = 16 * 1024 * 1024
OPEN_ROUTES = {("GET", "/health"), ("HEAD", "/health")}
# RFC 3986 pchar without percent-escapes: what a route of the served APIs is spelled with.
SEGMENT = re.compile(rb"[A-Za-z0-9._~!$&'()*+,;=:@-]+")
# Headers that belong to one connection, not to the request or response being forwarded.
HOP_BY_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding", "authorization"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def is_normalised(raw_path: bytes) -> bool:
    """True when forwarding `raw_path` cannot change it: `/`, or `/seg/seg[/]` with no dot segments."""
    if raw_path == b"/":
        return True
    if not raw_path.startswith(b"/"):
        return False
    segments = raw_path[1:].split(b"/")
    if segments[-1] == b"":
        segments = segments[:-1]
    return bool(segments) and all(SEGMENT.fullmatch(s) and s not in (b".", b"..") for s in segments)


def presented_key(authorization: str) -> str | None:
    """The token of `Bearer TOKEN` (the scheme is case-insensitive), else None."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_matches(authorization: str, api_key: str) -> bool:
    presented = presented_key(authorization)
    return presented is not None and hmac.compare_digest(presented.encode(), api_key.encode())


def error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


async def capped_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def proxy_app(
    api_key: str,
    upstream: httpx.AsyncClient,
    max_body: int = MAX_BODY_BYTES,
    open_routes: frozenset[tuple[str, str]] | set[tuple[str, str]] = OPEN_ROUTES,
) -> Starlette:
    """An ASGI app that checks every request as above and forwards it, and the streamed reply, to `upstream`;
    `open_routes` are the (method, path) pairs answered without the key."""
    if not api_key:
        raise ValueError("the proxy needs an API key")

    async def forward(request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        if not is_normalised(raw_path):
            return error(400, "path is not normalised", "invalid_request_error")
        path = raw_path.decode("ascii")
        if (request.method, path) not in open_routes and not key_matches(
            request.headers.get("authorization", ""), api_key
        ):
            return error(401, "invalid or missing API key", "authentication_error")
        body = await capped_body(request, max_body)
        if body is None:
            return error(413, f"request body over {max_body} bytes", "invalid_request_error")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        outgoing = upstream.build_request(
            request.method, path, params=request.query_params, headers=headers, content=body
        )
        try:
            reply = await upstream.send(outgoing, stream=True)
        except httpx.TransportError as failure:
            return error(502, f"model server: {failure}", "server_error")
        kept = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP}
        stream = reply.aiter_raw()
        return StreamingResponse(stream, reply.status_code, headers=kept, background=BackgroundTask(reply.aclose))

    return Starlette(routes=[Route("/{path:path}", forward, methods=METHODS)])
