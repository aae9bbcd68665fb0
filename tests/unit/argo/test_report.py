"""The end-of-run report of `fmops run` (report.md and the summary on stderr): each evaluation's scores with
their standard errors, the gate's decision with its one-line reason, and what the deploy step left serving,
never the address of a local server that stopped with its step. Also the local deploy itself: its
`endpoint` output stays empty once its server is gone."""

from __future__ import annotations

import json
from pathlib import Path

from fmops.argo.local import report
from fmops.argo.local.nodes import Node
from fmops.serving import deploy
from fmops.serving.config import DeployConfig

SMOKE_URL = "http://127.0.0.1:43121/v1"
BLOCKED = "blocked: demo_addition/exact_match fell 0.06 (0.97 -> 0.91), more than 0.02"


def evaluation(node_id: str, value: float, stderr: float | None) -> Node:
    metrics = {"demo_addition": {"exact_match": {"value": value, "stderr": stderr, "samples": 300}}}
    return Node(node_id, "evaluate", phase="Succeeded", outputs={"metrics": json.dumps(metrics)})


def deploy_node(tmp_path: Path, endpoint: str, record: dict | None) -> Node:
    node = Node("pipeline/deploy", "deploy", phase="Succeeded", outputs={"endpoint": endpoint})
    if record is not None:
        path = tmp_path / "artifacts" / "pipeline.deploy" / "deploy.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(record))
        node.artifacts = {"deployment": str(path)}
    return node


def run_nodes(tmp_path: Path, endpoint: str = "", record: dict | None = None) -> list[Node]:
    gate = Node("pipeline/gate", "gate", phase="Succeeded", outputs={"promote": "false", "summary": BLOCKED})
    return [
        evaluation("pipeline/eval-sft", 0.97, 0.009847),
        evaluation("pipeline/eval-dpo", 0.91, None),
        gate,
        deploy_node(tmp_path, endpoint, record),
    ]


LOCAL_RECORD = {
    "status": "promoted",
    "target": "local",
    "version": "v20260101-000000",
    "version_uri": "/r/registry/models/demo/v20260101-000000",
    "smoke_endpoint": SMOKE_URL,
}


def test_the_report_shows_standard_errors_the_gates_reason_and_no_stopped_url(tmp_path: Path):
    text = report.markdown("fmops-pipeline", "Succeeded", run_nodes(tmp_path, "", LOCAL_RECORD), tmp_path)
    assert "| eval-sft | 0.97 ± 0.009847 |" in text
    assert "| eval-dpo | 0.91 |" in text, "no standard error: the value alone"
    assert f"Gate (pipeline/gate): promote = **false**; {BLOCKED}" in text
    assert "127.0.0.1" not in text
    assert (
        "Deployed (pipeline/deploy): version v20260101-000000 is production; nothing serves it now (the local "
        "server stopped after its smoke test): `fmops serve --model /r/registry/models/demo/production`"
    ) in text


def test_a_served_endpoint_is_listed_and_a_missing_record_says_nothing_serves(tmp_path: Path):
    cluster = "http://demo.fmops.svc.cluster.local:8000/v1"
    text = report.markdown("fmops-pipeline", "Succeeded", run_nodes(tmp_path, cluster, None), tmp_path)
    assert f"Deployed (pipeline/deploy): serving at {cluster}" in text
    text = report.markdown("fmops-pipeline", "Succeeded", run_nodes(tmp_path / "b", "", None), tmp_path)
    assert "Deployed (pipeline/deploy): nothing serves it now (a local deploy stops its server with the step)" in text


def test_the_summary_on_stderr_says_the_same(tmp_path: Path, capsys):
    report.show("fmops-pipeline", "Succeeded", run_nodes(tmp_path, "", LOCAL_RECORD), tmp_path)
    printed = " ".join(capsys.readouterr().err.split())
    assert "0.97 ± 0.009847" in printed
    assert f"Gate (pipeline/gate): promote = false; {BLOCKED}" in printed
    assert "fmops serve --model /r/registry/models/demo/production" in printed and "127.0.0.1" not in printed


def test_a_local_deploy_leaves_no_endpoint_once_its_server_stopped(monkeypatch):
    """deploy --target local: the address is recorded as where the smoke test reached the server, and the
    endpoint output (what the report lists) stays empty, since the server stops with the step."""
    from fmops.serving import process

    class Server:
        base_url, ready_after_s, exit_code = SMOKE_URL, 1.5, None

        def __init__(self, model, **options):
            self.running = False

        def __enter__(self):
            self.running = True
            return self

        def __exit__(self, *exc):
            self.running, self.exit_code = False, 0

    monkeypatch.setattr(process, "LocalServer", Server)
    monkeypatch.setattr(deploy, "smoke", lambda endpoint, cfg, key: {"passed": True, "reached": endpoint})
    inputs = deploy.Inputs(model="m", name="demo", registry="/r", target="local")
    outcome = deploy.deploy_local(inputs, DeployConfig(), "/r/models/demo/v1")
    assert outcome["endpoint"] == "" and outcome["smoke_endpoint"] == SMOKE_URL
    assert outcome["smoke"]["reached"] == SMOKE_URL and outcome["server_exit_code"] == 0


SAFETY_TABLE = (
    "| safety metric | better | floor | ceiling | candidate | parent | baseline | rules |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
    "| demo_overrefusal/refusal_rate | lower | - | 0.0500 | 0.0800 ± 0.0120 | 0.0300 | - | FAIL |\n"
)


def test_the_gates_safety_table_is_in_the_report_and_on_stderr(tmp_path: Path, capsys):
    """The gate's `safety` artifact (safety.md) under its decision; a gate without one adds nothing."""
    nodes = run_nodes(tmp_path, "", LOCAL_RECORD)
    text = report.markdown("fmops-pipeline", "Succeeded", nodes, tmp_path)
    assert "Safety" not in text
    table = tmp_path / "artifacts" / "pipeline.gate" / "safety.md"
    table.parent.mkdir(parents=True)
    table.write_text(SAFETY_TABLE)
    nodes[2].artifacts = {"safety": str(table)}
    text = report.markdown("fmops-pipeline", "Succeeded", nodes, tmp_path)
    assert (
        f"Gate (pipeline/gate): promote = **false**; {BLOCKED}\n\n## Safety (pipeline/gate)\n\n{SAFETY_TABLE}" in text
    )
    report.show("fmops-pipeline", "Succeeded", nodes, tmp_path)
    assert f"Safety (pipeline/gate):\n{SAFETY_TABLE}" in capsys.readouterr().err
