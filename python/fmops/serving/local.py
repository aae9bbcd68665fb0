"""The local OpenAI-compatible server: `transformers serve` pinned to one model, or `vllm serve` where vLLM
is installed. Nothing here implements the OpenAI API; it configures those servers.

Both name a model the way it was given on their command line, so the one model a server is pinned to is
listed alone (hence first) in `/v1/models` under the id requests must use: the model directory's path.
Neither checks an API key unless one is configured. With `api_key`, vLLM checks it itself (VLLM_API_KEY);
`transformers serve`, which has no such option, runs on a private Unix socket behind a key-checking proxy
(fmops.serving.keyed_proxy) that asks every route but `/health` for `Authorization: Bearer <key>`.
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
    """Replace this process with `vllm serve` (it handles SIGTERM itself). The key travels in VLLM_API_KEY,
    which vLLM reads, not on the command line, where `ps` would show it."""
    command = ["vllm", "serve", model, "--host", host, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"}
    if api_key:
        env["VLLM_API_KEY"] = api_key
    os.execvpe(command[0], command, env)


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


def serve_behind_key(model: str, host: str, port: int, api_key: str) -> None:
    """`transformers serve` has no API-key option: it runs as a child process on a Unix socket in a private
    directory, and the key-checking proxy (fmops.serving.keyed_proxy) listens on host:port once the model
    is loaded."""
    import subprocess
    import tempfile

    import httpx
    import uvicorn

    from fmops.serving.keyed_proxy import proxy_app
    from fmops.serving.process import wait_for_socket_health

    with tempfile.TemporaryDirectory(prefix="fmops-serve-") as private:  # mode 0700: this user only
        path = os.path.join(private, "model.sock")
        command = [sys.executable, "-m", "fmops.serving.unix_socket_server", path, model]
        child = subprocess.Popen(command)
        try:
            if not wait_for_socket_health(path, child):
                raise SystemExit(child.returncode or 1)
            upstream = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=path), base_url="http://model", timeout=None
            )
            uvicorn.run(proxy_app(api_key, upstream), host=host, port=port, log_level="info")
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
