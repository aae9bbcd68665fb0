"""The local OpenAI-compatible server: `transformers serve` pinned to one model, or `vllm serve` where vLLM
is installed. Nothing here speaks HTTP itself; it configures those servers.

Both name a model the way it was given on their command line, so the one model a server is pinned to is
listed alone (hence first) in `/v1/models` under the id requests must use: the model directory's path.
Neither checks an API key unless one is configured; with `api_key`, every `/v1/...` route asks for
`Authorization: Bearer <key>` (`/health` stays open for probes), as vLLM's `--api-key` does.
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
    """`transformers serve MODEL` in this process, in the foreground; returns after SIGTERM/SIGINT."""
    from transformers.cli.serve import Serve
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        raise InputError("transformers serve needs its serving extra: pip install 'fmops[serve]'")

    class ForegroundServe(Serve):
        """`Serve(non_blocking=True)` builds the app and calls start_server(); we run uvicorn ourselves,
        in the main thread, so uvicorn's own SIGTERM/SIGINT handling gives a graceful stop."""

        def start_server(self) -> None:
            pass

    serve = ForegroundServe(force_model=model, host=host, port=port, non_blocking=True)
    if api_key:
        middleware = api_key_middleware(api_key)
        serve.server.config.app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    # uvicorn stops gracefully on SIGTERM, then re-raises it to the handler found before it started:
    # ours turns it into a normal exit (status 0), so a supervisor sees a clean stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        serve.server.run()
    finally:
        serve.reset_loaded_models()


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def serve(model: str, host: str, port: int, api_key: str = "") -> None:
    """Serve `model` (a local directory) until stopped: vLLM when installed, else transformers serve."""
    backend = "vllm" if vllm_installed() else "transformers"
    print(f"fmops serve: {backend} serving model id '{model}' at http://{host}:{port}/v1"
          f" ({'API key required' if api_key else 'any API key accepted'})", file=sys.stderr, flush=True)
    if backend == "vllm":
        serve_with_vllm(model, host, port, api_key)
    else:
        serve_with_transformers(model, host, port, api_key)
