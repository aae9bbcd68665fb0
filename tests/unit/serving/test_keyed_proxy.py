"""The API-key proxy in front of `transformers serve`, driven in-process through raw ASGI requests (an HTTP
client would normalise the hostile paths before sending them), with an upstream that echoes what reached it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fmops.serving.keyed_proxy import is_normalised, proxy_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

KEY = "s3cret"


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"path": request.url.path, "bytes": len(body), "auth": request.headers.get("authorization")})


UPSTREAM = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


def call(method: str, raw_path: bytes, headers: dict[str, str] | None = None, body: bytes = b"", max_body: int = 1024):
    """(status, JSON body) of one request to the proxy."""
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=UPSTREAM), base_url="http://model")
    app = proxy_app(KEY, upstream, max_body=max_body)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, httpx.Response(status, content=payload).json()


BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    "raw_path",
    [b"//x/v1/chat/completions", b"/health/../v1/chat/completions", b"/x/../v1/models", b"/%2e%2e/v1/models"],
)
def test_a_path_that_forwarding_would_rewrite_is_refused_even_with_the_key(raw_path):
    assert call("POST", raw_path)[0] == 400
    assert call("POST", raw_path, BEARER)[0] == 400


@pytest.mark.parametrize("raw_path", [b"/v1/models", b"/reset", b"/docs", b"/openapi.json", b"/", b"/health/x"])
def test_every_route_but_the_health_probe_needs_the_key(raw_path):
    status, body = call("GET", raw_path)
    assert (status, body["error"]["type"]) == (401, "authentication_error")
    assert call("GET", raw_path, {"Authorization": "Bearer wrong"})[0] == 401
    assert call("GET", raw_path, {"Authorization": KEY})[0] == 401  # no scheme


def test_the_health_probe_is_open_and_reaches_the_model_server():
    assert call("GET", b"/health") == (200, {"path": "/health", "bytes": 0, "auth": None})


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_key_forwards_the_exact_path_and_not_the_key(scheme):
    status, body = call("POST", b"/v1/chat/completions", {"Authorization": f"{scheme} {KEY}"}, b"{}")
    assert (status, body) == (200, {"path": "/v1/chat/completions", "bytes": 2, "auth": None})


def test_a_body_over_the_cap_is_refused_streamed_or_declared():
    assert call("POST", b"/v1/completions", BEARER, b"x" * 1025)[0] == 413
    declared = {**BEARER, "Content-Length": str(10**9)}
    assert call("POST", b"/v1/completions", declared)[0] == 413
    assert call("POST", b"/v1/completions", BEARER, b"x" * 1024)[0] == 200


def test_an_unkeyed_large_body_is_refused_before_it_is_read():
    assert call("POST", b"/v1/completions", {"Content-Length": str(10**9)}, b"x" * 10)[0] == 401


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        (b"/v1/models", True),
        (b"/v1/models/", True),
        (b"/", True),
        (b"", False),
        (b"v1", False),
        (b"/a//b", False),
        (b"/./v1", False),
        (b"/v1/%41", False),
        (b"/v1\\..\\x", False),
        (b"/v1/models?x", False),
    ],
)
def test_normalised_paths(raw_path, expected):
    assert is_normalised(raw_path) is expected


def test_a_proxy_without_a_key_is_not_built():
    with pytest.raises(ValueError):
        proxy_app("", httpx.AsyncClient())
