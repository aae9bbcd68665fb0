"""The local OpenAI-compatible server: `transformers serve` pinned to one model, or vLLM's server from its
own environment (fmops.serving.vllm_local). Nothing here implements the OpenAI API; it configures those servers.

`--engine`: `transformers` (the default: in fmops's environment, starts in seconds), `vllm` (the cluster's
engine: log-probabilities for log-likelihood evaluation, the `vllm:*` metrics the alerts and dashboard query;
its environment is created on first use), or `auto` (vLLM where its environment exists and the machine and
model suit it, else transformers; it says which and why).

Both name a model the way it was given on their command line, so the one model a server is pinned to is
listed alone (hence first) in `/v1/models` under the id requests must use: the model directory's path
(vLLM: `--served-model-name` when given). Neither checks an API key unless one is configured. With
`api_key`, each runs on a private Unix socket behind a key-checking proxy (fmops.serving.keyed_proxy) that
asks every route but `/health` for `Authorization: Bearer <key>`.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace

from fmops.core.errors import InputError
from fmops.serving.engine_options import DEFAULT, EngineOptions, check_engine


def choose_engine(requested: str, model: str) -> tuple[str, str]:
    """(engine, why): `auto` resolved, with the reason it gives."""
    check_engine(requested)
    if requested != "auto":
        return requested, "as asked"
    from fmops.serving import vllm_env, vllm_local

    python = vllm_env.existing_python()
    missing = "no vLLM environment yet (fmops serve --engine vllm creates it; or set FMOPS_VLLM_PYTHON)"
    problem = (
        (missing if not python else "")
        or vllm_env.machine_problem()
        or vllm_local.model_problem(vllm_local.model_config(model))
    )
    return ("transformers", problem) if problem else ("vllm", f"its environment: {python}")


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


def serve(model: str, host: str, port: int, api_key: str = "", options: EngineOptions = DEFAULT) -> None:
    """Serve `model` (a local directory) with the chosen engine until stopped."""
    chosen, why = choose_engine(options.engine, model)
    if chosen == "transformers" and options.sets_vllm_only():
        if options.engine == "transformers":
            raise InputError("--served-model-name, --max-model-len and --vllm-arg apply to --engine vllm only")
        options = replace(options, served_name="", max_model_len=0, extra_args=())  # auto fell back to transformers
    if options.engine == "auto":
        print(f"fmops serve: engine auto -> {chosen} ({why})", file=sys.stderr, flush=True)
    print(
        f"fmops serve: {chosen} serving model id '{options.served_name or model}' at http://{host}:{port}/v1"
        f" ({'API key required' if api_key else 'any API key accepted'})",
        file=sys.stderr,
        flush=True,
    )
    if chosen == "vllm":
        from fmops.serving import vllm_local

        signal.signal(signal.SIGTERM, _exit_cleanly)
        vllm_local.serve(model, host, port, api_key, options)
    else:
        serve_with_transformers(model, host, port, api_key)
