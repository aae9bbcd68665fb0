"""The local OpenAI-compatible server: `transformers serve` pinned to one model, or `vllm serve` where vLLM
is installed. Nothing here implements the OpenAI API; it configures those servers.

Both name a model the way it was given on their command line, so the one model a server is pinned to is
listed alone (hence first) in `/v1/models` under the id requests must use: the model directory's path.
Neither checks an API key unless one is configured; with `api_key`, every `/v1/...` route asks for
`Authorization: Bearer <key>` (`/health` stays open for probes), as vLLM's `--api-key` does; for
`transformers serve`, which has no such option, a key-checking proxy sits in front of it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys

from fmops.core.errors import InputError


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def serve_with_vllm(model: str, host: str, port: int, api_key: str) -> None:
    """Replace this process with `vllm serve` (it handles SIGTERM itself)."""
    command = ["vllm", "serve", model, "--host", host, "--port", str(port)]
    if api_key:
        command += ["--api-key", api_key]
    os.execvp(command[0], command)


def api_key_middleware(api_key: str):
    """Starlette's AuthenticationMiddleware with a backend that refuses a missing or wrong bearer key."""
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        SimpleUser,
    )
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.responses import JSONResponse

    class BearerKey(AuthenticationBackend):
        async def authenticate(self, conn):
            if not conn.url.path.startswith("/v1"):
                return None
            if conn.headers.get("authorization", "") != f"Bearer {api_key}":
                raise AuthenticationError("invalid or missing API key")
            return AuthCredentials(["authenticated"]), SimpleUser("client")

    def refuse(_conn, error: Exception) -> JSONResponse:
        body = {"error": {"message": str(error), "type": "authentication_error"}}
        return JSONResponse(body, status_code=401)

    return Middleware(AuthenticationMiddleware, backend=BearerKey(), on_error=refuse)


def serve_with_transformers(model: str, host: str, port: int, api_key: str) -> None:
    """`transformers serve MODEL` in the foreground; returns after SIGTERM/SIGINT."""
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        raise InputError("transformers serve needs its serving extra: pip install 'fmops[serve]'")
    # uvicorn stops gracefully on SIGTERM, then re-raises it to the handler found before it started:
    # ours turns it into a normal exit (status 0), so a supervisor sees a clean stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if api_key:
        serve_behind_key(model, host, port, api_key)
        return
    from transformers.cli.serve import Serve

    # The command's own constructor, with its command-line options: it builds the app and runs uvicorn in
    # this thread until a signal stops it.
    Serve(force_model=model, host=host, port=port)


# Headers that belong to one connection, not to the request or response being forwarded.
HOP_BY_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding"}


def serve_behind_key(model: str, host: str, port: int, api_key: str) -> None:
    """`transformers serve` has no API-key option: it runs as a child process on a free loopback port, and
    a small proxy on host:port (Starlette's AuthenticationMiddleware, httpx streaming) checks the key and
    forwards every request and streamed response unchanged. The proxy listens once the model is loaded."""
    import subprocess

    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    from fmops.serving.process import free_port, wait_for_health

    inner = f"http://127.0.0.1:{free_port()}"
    command = [
        sys.executable,
        "-c",
        "from transformers.cli.transformers import main; main()",
        "serve",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        inner.rpartition(":")[2],
    ]
    child = subprocess.Popen(command)
    try:
        if not wait_for_health(inner, child):
            raise SystemExit(child.returncode or 1)
        client = httpx.AsyncClient(base_url=inner, timeout=None)

        async def forward(request: Request):
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            outgoing = client.build_request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
            try:
                reply = await client.send(outgoing, stream=True)
            except httpx.TransportError as error:
                return JSONResponse({"error": {"message": f"model server: {error}"}}, status_code=502)
            kept = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP}
            return StreamingResponse(
                reply.aiter_raw(), status_code=reply.status_code, headers=kept, background=BackgroundTask(reply.aclose)
            )

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        app = Starlette(
            routes=[Route("/{path:path}", forward, methods=methods)], middleware=[api_key_middleware(api_key)]
        )
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        child.terminate()
        child.wait()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def serve(model: str, host: str, port: int, api_key: str = "") -> None:
    """Serve `model` (a local directory) until stopped: vLLM when installed, else transformers serve."""
    backend = "vllm" if vllm_installed() else "transformers"
    print(
        f"fmops serve: {backend} serving model id '{model}' at http://{host}:{port}/v1"
        f" ({'API key required' if api_key else 'any API key accepted'})",
        file=sys.stderr,
        flush=True,
    )
    if backend == "vllm":
        serve_with_vllm(model, host, port, api_key)
    else:
        serve_with_transformers(model, host, port, api_key)
