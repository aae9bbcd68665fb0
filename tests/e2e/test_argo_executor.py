"""`fmops run --workflows DIR` end to end on YAML that fmops did not render: each step a real process."""

import json
from dataclasses import dataclass
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


# ---- one run of FEATURES, one test per Argo feature it exercises ---------------------------------------


@dataclass(frozen=True)
class FeaturesRun:
    returncode: int
    phases: dict[str, str]
    state: dict[str, dict]

    def log(self, node: str) -> str:
        return Path(self.state[node]["log"]).read_text()


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> FeaturesRun:
    root = tmp_path_factory.mktemp("features")
    wf = workflows_dir(root, features=FEATURES)
    result = fmops("run", "features", "--workflows", str(wf), "--workdir", str(root / "run"), check=False)
    state = nodes(root / "run")
    return FeaturesRun(result.returncode, {k: v["phase"] for k, v in state.items()}, state)


def test_a_failing_exit_handler_fails_a_workflow_whose_steps_succeeded(features: FeaturesRun):
    assert features.returncode == 1
    assert (features.phases["main"], features.phases["exit"]) == ("Succeeded", "Failed")


def test_exit_handler_sees_the_workflow_status_and_a_global_output(features: FeaturesRun):
    assert "Succeeded from count" in features.log("exit")  # workflow.status, workflow.outputs.parameters.counted


def test_when_false_skips_the_step(features: FeaturesRun):
    assert features.phases["main/never"] == "Skipped"


def test_template_timeout_fails_the_step_and_continue_on_lets_the_steps_go_on(features: FeaturesRun):
    assert (features.phases["main/slow"], features.state["main/slow"]["attempts"]) == ("Failed", 1)
    assert "deadline" in features.state["main/slow"]["message"]
    assert features.phases["main/sum"] == "Succeeded"


def test_template_defaults_retry_strategy_and_the_retries_variable(features: FeaturesRun):
    assert (features.phases["main/flaky"], features.state["main/flaky"]["attempts"]) == ("Succeeded", 2)
    assert "attempt 0" in features.log("main/flaky") and "attempt 1" in features.log("main/flaky")


def test_script_template_stdout_is_its_result(features: FeaturesRun):
    assert features.state["main/count"]["result"] == "2"


def test_with_sequence_loop_children_see_their_item(features: FeaturesRun):
    loop = [features.state[f"main/loop({i}:{i})"]["outputs"]["said"] for i in range(3)]
    assert loop == ["0-2", "1-2", "2-2"]


def test_expression_tag_over_aggregated_loop_outputs_exit_code_and_status(features: FeaturesRun):
    said = features.state["main/sum"]["outputs"]["said"].split()
    assert said == ['["0-2!","1-2!","2-2!"]', "0", "Failed"]


def test_artifacts_passed_from_a_step_and_as_raw_data(features: FeaturesRun):
    assert features.log("main/art").endswith("from countraw run")


def test_suspend_waits_its_duration(features: FeaturesRun):
    pause = features.state["main/pause"]
    assert features.phases["main/pause"] == "Succeeded" and pause["finished"] - pause["started"] >= 1


def test_dag_target_runs_only_the_target_and_its_dependencies(features: FeaturesRun):
    assert {k for k in features.phases if k.startswith("main/targeted/")} == {"main/targeted/A", "main/targeted/B"}


# ---- concurrency, proven by a barrier rather than by timing ----------------------------------------------

PEERS = 3
# Each party touches its file, then waits (at most 30 s) until every peer's file exists: run one after
# another, the first party would wait for peers that never start, and fail.
MEET = f"""
  - name: meet
    inputs: {{parameters: [{{name: who}}]}}
    container:
      image: busybox
      command: [sh, -c]
      args: ["touch {{{{workflow.parameters.room}}}}/{{{{inputs.parameters.who}}}};
              for i in $(seq 300); do [ $(ls {{{{workflow.parameters.room}}}} | wc -l) -ge {PEERS} ] && exit 0;
              sleep 0.1; done; echo alone; exit 1"]
"""
PARTY = "{name: p%d, template: meet, arguments: {parameters: [{name: who, value: p%d}]}}"
CALLS = {
    "a steps group": "    steps:\n    - " + "\n      ".join("- " + PARTY % (i, i) for i in range(PEERS)),
    "independent DAG tasks": "    dag:\n      tasks:\n" + "\n".join("      - " + PARTY % (i, i) for i in range(PEERS)),
    "a loop's children": f"""    steps:
    - - name: loop
        template: meet
        withSequence: {{count: "{PEERS}"}}
        arguments: {{parameters: [{{name: who, value: "p{{{{item}}}}"}}]}}""",
}


@pytest.mark.parametrize("calls", CALLS.values(), ids=CALLS.keys())
def test_independent_calls_run_at_once(tmp_path: Path, calls: str):
    room = tmp_path / "room"
    room.mkdir()
    text = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: barrier-
spec:
  entrypoint: main
  parallelism: {PEERS}
  arguments:
    parameters:
    - {{name: room}}
  templates:
  - name: main
{calls}
{MEET}"""
    wf = workflows_dir(tmp_path, barrier=text)
    args = ["run", "barrier", "--workflows", str(wf), "--workdir", str(tmp_path / "run"), "-p", f"room={room}"]
    result = fmops(*args, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in room.iterdir()) == [f"p{i}" for i in range(PEERS)]
