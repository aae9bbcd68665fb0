"""`fmops run --workflows DIR` end to end on YAML that fmops did not render: each step a real process."""

import json
from pathlib import Path

import pytest

from tests.helpers import fmops
from tests.unit.argo.examples import CHAIN, DIAMOND, FEATURES, workflows_dir

pytestmark = pytest.mark.slow


def nodes(run_dir: Path) -> dict[str, dict]:
    return json.loads((run_dir / "run.json").read_text())["nodes"]


def test_diamond_runs_in_dependency_order_with_outputs_retries_and_when(tmp_path: Path):
    wf = workflows_dir(tmp_path, diamond=DIAMOND)
    result = fmops("run", "diamond", "--workflows", str(wf), "--workdir", str(tmp_path / "run"), check=False)
    assert result.returncode == 0, result.stderr
    assert "diamond succeeded in" in result.stderr
    state = nodes(tmp_path / "run")
    phases = {k.removeprefix("main/"): v["phase"] for k, v in state.items()}
    assert phases == {
        "main": "Succeeded",
        "A": "Succeeded",
        "B": "Succeeded",
        "C": "Failed",
        "D": "Succeeded",
        "never": "Skipped",
        "flaky": "Succeeded",
        "remote": "Succeeded",
        "last": "Succeeded",
    }
    assert state["main/B"]["outputs"] == {"out": "hello world"}
    assert state["main/D"]["outputs"] == {"out": "D saw hello world"}
    assert state["main/last"]["outputs"] == {"out": "D SAW HELLO WORLD"}
    assert state["main/flaky"]["attempts"] == 2
    log = Path(state["main/flaky"]["log"]).read_text()
    assert "first try fails" in log and "second try" in log
    order = sorted((v["started"], k) for k, v in state.items() if v["started"] and k != "main")
    started = [k.removeprefix("main/") for _, k in order]
    assert (
        started.index("A") < started.index("B") < started.index("D") < started.index("remote") < started.index("last")
    )


def test_failure_stops_dependants_names_the_step_and_resume_reruns_only_the_rest(tmp_path: Path):
    wf = workflows_dir(tmp_path, chain=CHAIN)
    counter, gate = tmp_path / "counter", tmp_path / "gate"
    args = [
        "run",
        "chain",
        "--workflows",
        str(wf),
        "--workdir",
        str(tmp_path / "run"),
        "-p",
        f"counter={counter}",
        "-p",
        f"gate-file={gate}",
    ]
    failed = fmops(*args, check=False)
    assert failed.returncode == 1
    state = nodes(tmp_path / "run")
    assert (state["main/first"]["phase"], state["main/second"]["phase"], state["main/third"]["phase"]) == (
        "Succeeded",
        "Failed",
        "Omitted",
    )
    log = state["main/second"]["log"]
    assert f"failed: main/second: Error (exit code 4); log: {log}" in failed.stderr
    assert f"to rerun what did not succeed: fmops run --resume {tmp_path / 'run'}" in failed.stderr
    assert "gate closed" in Path(log).read_text()
    assert counter.read_text() == "x\n"

    gate.touch()
    resumed = fmops("run", "--resume", str(tmp_path / "run"), check=False)
    assert resumed.returncode == 0, resumed.stderr
    state = nodes(tmp_path / "run")
    assert {k: v["phase"] for k, v in state.items()} == {
        "main": "Succeeded",
        "main/first": "Succeeded",
        "main/second": "Succeeded",
        "main/third": "Succeeded",
    }
    assert state["main/first"]["message"] == "reused from the earlier run"
    assert counter.read_text() == "x\nx\n"  # first did not run again; third ran once


def test_argo_semantics_that_were_silently_wrong(tmp_path: Path):
    """when "false", dag.target, a template timeout, templateDefaults, script templates, outputs.result and
    exitCode, {{retries}}, loops with aggregated outputs, expression tags, artifacts (from, raw), globalName,
    suspend with a duration, and an exit handler whose failure fails the workflow."""
    wf = workflows_dir(tmp_path, features=FEATURES)
    result = fmops("run", "features", "--workflows", str(wf), "--workdir", str(tmp_path / "run"), check=False)
    assert result.returncode == 1, result.stderr
    state = nodes(tmp_path / "run")
    phases = {k: v["phase"] for k, v in state.items()}
    assert phases["main"] == "Succeeded" and phases["exit"] == "Failed"  # the exit handler fails the workflow
    assert phases["main/never"] == "Skipped"
    assert (phases["main/slow"], state["main/slow"]["attempts"]) == ("Failed", 1)
    assert "deadline" in state["main/slow"]["message"]
    assert (phases["main/flaky"], state["main/flaky"]["attempts"]) == ("Succeeded", 2)  # templateDefaults retry
    assert state["main/count"]["result"] == "2"
    assert [state[f"main/loop({i}:{i})"]["outputs"]["said"] for i in range(3)] == ["0-2", "1-2", "2-2"]
    assert state["main/sum"]["outputs"]["said"].split() == ['["0-2!","1-2!","2-2!"]', "0", "Failed"]
    assert Path(state["main/art"]["log"]).read_text().endswith("from countraw run")
    assert phases["main/pause"] == "Succeeded" and state["main/pause"]["finished"] - state["main/pause"]["started"] >= 1
    assert {k for k in phases if k.startswith("main/targeted/")} == {"main/targeted/A", "main/targeted/B"}
    exit_log = Path(state["exit"]["log"]).read_text()
    assert "Succeeded from count" in exit_log
    # the steps of one group ran at once (parallelism 4): each started before the 1 s pause and the 1 s
    # timeout ended; run one after another, one of them would start after those ended
    group = [state[f"main/{name}"] for name in ("flaky", "count", "slow", "pause")]
    assert max(n["started"] for n in group) < min(state[f"main/{name}"]["finished"] for name in ("slow", "pause"))
