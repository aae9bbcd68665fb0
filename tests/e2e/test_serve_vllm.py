"""`fmops serve --engine vllm`: vLLM's server from its own environment on the tiny model (head_dim 32, which
its CPU attention supports), behind fmops's key proxy, driven with the official openai client.

Skips where there is no vLLM environment (tests/e2e/conftest.py says how to get one). In-process checks of
the engine choice, the command line and the error line: tests/unit/serving/test_vllm_engine.py.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import promql_parser
import pytest
from fmops.serving.process import LocalServer

from tests.helpers import fmops
from tests.unit.serving.test_vllm_release import generated_queries, selectors

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vllm")]  # starts vLLM (30-150 s on 2 shared cores)

KEY = "vllm-test-key"


@pytest.fixture(scope="module")
def vllm_served(tiny_model, vllm_python) -> Iterator[LocalServer]:
    with LocalServer(str(tiny_model), engine="vllm", api_key=KEY, startup_timeout=600) as server:
        yield server


def client(server: LocalServer, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, timeout=60, max_retries=0)


def status(url: str, key: str = "") -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_completions_echo_the_prompts_log_probabilities(vllm_served, tiny_model):
    (model,) = [m.id for m in client(vllm_served).models.list().data]
    assert model == str(tiny_model), "the model directory is the id, as with transformers serve"
    reply = client(vllm_served).completions.create(
        model=model, prompt="12+34=", max_tokens=1, temperature=0, echo=True, logprobs=1
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs.token_logprobs[0] is None and all(lp < 0 for lp in logprobs.token_logprobs[1:])
    assert "".join(logprobs.tokens).startswith("12+34="), "the prompt's tokens, one by one"


def test_chat_uses_the_models_own_template(vllm_served, tiny_model):
    reply = client(vllm_served).chat.completions.create(
        model=str(tiny_model), messages=[{"role": "user", "content": "What is 2+3?"}], max_tokens=4
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    # the ChatML template around one user turn and the assistant's opening, in the model's own tokens
    assert reply.usage.prompt_tokens > len("What is 2+3?")


@pytest.mark.parametrize("route", ["/v1/models", "/metrics", "/tokenize", "/invocations", "/docs", "/version"])
def test_every_route_but_health_needs_the_key(vllm_served, route):
    root = vllm_served.base_url.removesuffix("/v1")
    assert status(root + route) == 401
    assert status(root + route, "wrong-key") == 401
    assert status(root + "/health") == 200


def test_the_metrics_every_alert_panel_and_trigger_query_are_exported(vllm_served, tiny_model):
    client(vllm_served).completions.create(model=str(tiny_model), prompt="1+1=", max_tokens=4)
    root = vllm_served.base_url.removesuffix("/v1")
    request = urllib.request.Request(root + "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    queried = {name for query in generated_queries() for name in selectors(promql_parser.parse(query))}
    assert queried - {"up"} <= exported, "`up` is Prometheus's own; every other series is vLLM's"
    assert f'model_name="{tiny_model}"' in text


def test_a_setting_the_engine_refuses_is_its_own_line_and_exit_2(tiny_model, vllm_python):
    # past the model's 512 positions: vLLM refuses it while building its config, seconds after starting
    result = fmops("serve", "--model", str(tiny_model), "--engine", "vllm", "--max-model-len", "4096", check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        f"fmops serve: error: vLLM cannot serve {tiny_model}: ValidationError: Value error, User-specified "
        "max_model_len (4096) is greater than the derived max_model_len"
    )


def test_sigterm_stops_vllm_and_its_processes(tiny_model, vllm_python):
    server = LocalServer(str(tiny_model), engine="vllm", startup_timeout=600).start()
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    assert children, "vLLM runs as a child of fmops serve"
    assert [m.id for m in client(server, "any").models.list().data] == [str(tiny_model)], "no key: any key"
    assert server.stop(timeout=60) == 0
    alive = [pid for pid in children if subprocess.run(["kill", "-0", pid], capture_output=True).returncode == 0]
    assert alive == []


def test_fmops_run_deploys_locally_with_vllm(tiny_model, vllm_python, tmp_path):
    """`-p serving-engine=vllm` travels from the template to `fmops deploy --engine`: the smoke test passes
    against vLLM, under the name the cluster would serve the model as."""
    fmops(
        "run",
        "fmops-deploy",
        "--workdir",
        str(tmp_path / "run"),
        "-p",
        f"model={tiny_model}",
        "-p",
        "target=local",
        "-p",
        f"registry={tmp_path / 'registry'}",
        "-p",
        "serving-engine=vllm",
    )
    (found,) = (tmp_path / "run").rglob("deploy.json")
    report = json.loads(found.read_text())
    assert (report["status"], report["engine"], report["server_exit_code"]) == ("promoted", "vllm", 0)
    assert report["smoke"]["model"] == "demo" and report["smoke"]["load"]["errors"] == 0
    log = (tmp_path / "run" / "steps" / "deploy" / "log.txt").read_text()
    assert f"fmops serve --model {tmp_path / 'registry'}/models/demo/production --engine vllm\n" in log
