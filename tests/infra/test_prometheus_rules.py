"""The serving alerts checked by Prometheus's own tool: `promtool check rules` on the rendered PrometheusRule
(argocd/addons/serving-demo/objects.yaml), and `promtool test rules` driving every alert with input series to
firing and to staying quiet, at and around its threshold and its `for` duration.

promtool comes with Debian's and Ubuntu's `prometheus` package (`apt-get install prometheus`); without it
these tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.infra.conftest import ARGOCD, unavailable

OBJECTS = ARGOCD / "addons" / "serving-demo" / "objects.yaml"
SCOPE = 'namespace="fmops",service="demo"'
SUMMARY = {
    "FmopsServingTTFTHigh": "fmops/demo: time to first token p95 above 2.0 s",
    "FmopsServingErrorRate": "fmops/demo: more than 5% of requests fail",
    "FmopsServingQueueDepth": "fmops/demo: more than 10 requests waiting (vllm:num_requests_waiting)",
    "FmopsServingDown": "fmops/demo: no vLLM replica is scraped",
}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        unavailable("promtool is not installed (Debian/Ubuntu: apt-get install prometheus)")
    return found


@pytest.fixture
def rules(tmp_path) -> Path:
    """The rendered PrometheusRule's groups, as the rule file Prometheus loads from it."""
    (rule,) = [obj for obj in yaml.safe_load_all(OBJECTS.read_text()) if obj and obj["kind"] == "PrometheusRule"]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    return path


def run(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rendered_rules(promtool, rules):
    result = run(promtool, "check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 4 rules found" in result.stdout


def test_promtool_check_can_fail(promtool, rules):
    rules.write_text(
        rules.read_text().replace("histogram_quantile(0.95, sum by (le)", "histogram_quantile(0.95, sum by")
    )
    assert run(promtool, "check", "rules", str(rules)).returncode != 0


def series(name: str, values: str, **labels: str) -> dict:
    extra = "".join(f',{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{SCOPE}{extra}}}", "values": values}


def ttft(bucket_counts: dict[str, str]) -> list[dict]:
    return [series("vllm:time_to_first_token_seconds_bucket", v, le=le) for le, v in bucket_counts.items()]


def requests_per_minute(errors: int, successes: int) -> list[dict]:
    return [
        series("http_requests_total", f"0+{errors}x30", status="5xx", handler="/v1/completions", method="POST"),
        series("http_requests_total", f"0+{successes}x30", status="2xx", handler="/v1/completions", method="POST"),
    ]


def fired(alert: str, **labels: str) -> list[dict]:
    severity = "warning" if alert in ("FmopsServingTTFTHigh", "FmopsServingQueueDepth") else "critical"
    return [{"exp_labels": {"severity": severity, **labels}, "exp_annotations": {"summary": SUMMARY[alert]}}]


# (what the input series show, the series, the alert, [(evaluation time, the alerts expected then)])
CASES = [
    (
        "every first token in (2.5, 5] s: pending until its 10 minutes have passed",
        ttft({"0.5": "0x30", "2.5": "0x30", "5": "0+10x30", "+Inf": "0+10x30"}),
        "FmopsServingTTFTHigh",
        [("9m", []), ("15m", fired("FmopsServingTTFTHigh"))],
    ),
    (
        "every first token under 0.5 s",
        ttft({"0.5": "0+10x30", "2.5": "0+10x30", "5": "0+10x30", "+Inf": "0+10x30"}),
        "FmopsServingTTFTHigh",
        [("15m", [])],
    ),
    (
        "20% of requests answer 5xx",
        requests_per_minute(2, 8),
        "FmopsServingErrorRate",
        [("4m", []), ("10m", fired("FmopsServingErrorRate"))],
    ),
    ("3% of requests answer 5xx", requests_per_minute(3, 97), "FmopsServingErrorRate", [("10m", [])]),
    ("no request at all", requests_per_minute(0, 0), "FmopsServingErrorRate", [("10m", [])]),
    (
        "6 requests waiting on each of two replicas",
        [series("vllm:num_requests_waiting", "6x30", pod=pod) for pod in ("demo-a", "demo-b")],
        "FmopsServingQueueDepth",
        [("10m", fired("FmopsServingQueueDepth"))],
    ),
    (
        "5 requests waiting",
        [series("vllm:num_requests_waiting", "5x30", pod="demo-a")],
        "FmopsServingQueueDepth",
        [("10m", [])],
    ),
    (
        "the only replica's scrape fails",
        [series("up", "0x30", pod="demo-a")],
        "FmopsServingDown",
        [("4m", []), ("10m", fired("FmopsServingDown"))],
    ),
    (
        "no scrape target at all (the ServiceMonitor selects nothing)",
        [{"series": 'up{namespace="fmops",service="other"}', "values": "1x30"}],
        "FmopsServingDown",
        [("10m", fired("FmopsServingDown", namespace="fmops", service="demo"))],
    ),
    (
        "one of two replicas up",
        [series("up", "1x30", pod="demo-a"), series("up", "0x30", pod="demo-b")],
        "FmopsServingDown",
        [("10m", [])],
    ),
]


def unit_tests(rules: Path, cases: list) -> Path:
    tests = [
        {
            "name": name,
            "interval": "1m",
            "input_series": inputs,
            "alert_rule_test": [{"eval_time": t, "alertname": alert, "exp_alerts": expected} for t, expected in checks],
        }
        for name, inputs, alert, checks in cases
    ]
    path = rules.parent / "rules_test.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    return path


def test_every_alert_fires_and_stays_quiet_as_its_series_say(promtool, rules):
    assert {case[2] for case in CASES} == set(SUMMARY)
    result = run(promtool, "test", "rules", str(unit_tests(rules, CASES)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("index", [0, 2, 7])
def test_the_unit_tests_can_fail(promtool, rules, index):
    name, inputs, alert, checks = CASES[index]
    wrong = [(name, inputs, alert, [(t, [] if expected else fired(alert)) for t, expected in checks])]
    result = run(promtool, "test", "rules", str(unit_tests(rules, wrong)))
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr
