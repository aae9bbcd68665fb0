"""The monitoring queries against a real Prometheus scraping the local vLLM (`fmops serve --engine vllm`).

Prometheus (Debian's or Ubuntu's `prometheus` package) scrapes the engine every second through fmops's key
proxy, with the `namespace` and `service` labels the ServiceMonitor's relabelling adds on the cluster, and
loads the rendered alert rules. After some load, every query the dashboard, the KEDA trigger and the alerts
are built from (fmops.serving.monitoring.queries) returns a series; stopping the engine makes
FmopsServingDown pending. Skips without prometheus or a vLLM environment, except that under CI=true a
missing prometheus fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import openai
import pytest
import yaml
from fmops.serving import monitoring
from fmops.serving.process import LocalServer, answers, free_port
from fmops.serving.spec import ServingSpec

from tests.infra.conftest import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vllm")]  # starts vLLM and Prometheus

KEY = "monitoring-test-key"
SPEC = ServingSpec(name="demo", namespace="fmops", model_uri="s3://b/m", version="v1")


def prometheus_config(tmp_path: Path, target: str) -> Path:
    (tmp_path / "key").write_text(KEY)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(monitoring.prometheus_rule(SPEC)["spec"]))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": "vllm",
                "authorization": {"credentials_file": str(tmp_path / "key")},
                "static_configs": [{"targets": [target], "labels": {"namespace": "fmops", "service": "demo"}}],
            }
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def query(base: str, expr: str) -> list[dict]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]["result"]


def alert_states(base: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{base}/api/v1/alerts", timeout=10) as response:
        return {a["labels"]["alertname"]: a["state"] for a in json.loads(response.read())["data"]["alerts"]}


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def load(server: LocalServer, model: str) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, timeout=60, max_retries=0)
    for _ in range(8):
        client.completions.create(model=model, prompt="12+34=", max_tokens=8)
        for _chunk in client.completions.create(model=model, prompt="7+8=", max_tokens=8, stream=True):
            pass


def test_every_query_answers_from_a_live_scrape_and_down_goes_pending(tmp_path, tiny_model, vllm_python):
    binary = shutil.which("prometheus")
    if not binary:
        unavailable("prometheus is not installed (Debian/Ubuntu: apt-get install prometheus)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with LocalServer(str(tiny_model), engine="vllm", api_key=KEY, startup_timeout=600) as engine:
        config = prometheus_config(tmp_path, f"127.0.0.1:{engine.port}")
        command = [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}"]
        prometheus = subprocess.Popen(
            [*command, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            scrape_and_stop(base, engine, str(tiny_model))
        finally:
            prometheus.terminate()
            prometheus.wait(30)


def scrape_and_stop(base: str, engine: LocalServer, model: str) -> None:
    wait_for(lambda: answers(f"{base}/-/ready"), 60, "Prometheus ready")
    wait_for(lambda: query(base, 'up{namespace="fmops",service="demo"} == 1'), 30, "the engine scraped")
    load(engine, model)
    time.sleep(3)  # three more scrapes: the load is in every rate window
    queries = monitoring.queries(SPEC)
    # a ratio of nothing to nothing: made total as the alert would see it, 0 errors of some requests
    numerator, denominator = queries["error_ratio"].split(" / ")
    queries["error_ratio"] = f"({numerator} or vector(0)) / {denominator}"
    empty = [name for name, expr in queries.items() if not query(base, expr)]
    assert empty == [], f"no series for {empty}"
    originals = monitoring.queries(SPEC)
    for rule in monitoring.prometheus_rule(SPEC)["spec"]["groups"][0]["rules"]:
        assert any(
            rule["expr"].startswith(originals[name] + " ") for name in ("ttft_p95", "error_ratio", "waiting", "up")
        )
    (p95,) = query(base, queries["ttft_p95"])
    assert 0 < float(p95["value"][1]) < 60, "a real time to first token, in seconds"
    assert "FmopsServingDown" not in alert_states(base)
    engine.stop()
    wait_for(lambda: alert_states(base).get("FmopsServingDown") == "pending", 30, "FmopsServingDown pending")
