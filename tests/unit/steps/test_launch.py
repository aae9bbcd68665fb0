"""`fmops launch`: one process runs the stage in place; several get an `accelerate launch` command line."""

from pathlib import Path

import pytest
from fmops.core.errors import InputError
from fmops.steps.launch import accelerate_command, launch

from tests.helpers import cli


def test_builds_an_accelerate_line_for_several_nodes():
    env = {"RANK": "1", "MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "23456"}
    line = accelerate_command(stage=["pretrain", "--model", "m"], nodes=2, gpus_per_node=8, strategy="fsdp2", env=env)
    assert line[:2] == ["accelerate", "launch"]
    assert line[line.index("--num_processes") + 1] == "16" and line[line.index("--num_machines") + 1] == "2"
    assert [line[line.index(flag) + 1] for flag in ("--machine_rank", "--main_process_ip", "--main_process_port")] == [
        "1",
        "10.0.0.5",
        "23456",
    ]
    assert line[-5:] == ["-m", "fmops", "pretrain", "--model", "m"]
    config = Path(line[line.index("--config_file") + 1])
    assert config.name == "fsdp2.yaml" and config.is_file()


def test_one_node_needs_no_rendezvous():
    line = accelerate_command(stage=["sft"], nodes=1, gpus_per_node=4, strategy="zero3", env={})
    assert "--machine_rank" not in line and line[line.index("--num_processes") + 1] == "4"


def test_one_process_or_a_torchrun_process_runs_in_place():
    ran = []
    assert launch(stage=["sft", "--x"], run_in_place=lambda stage: ran.append(stage) or 3, env={}) == 3
    assert (
        launch(
            stage=["dpo"], gpus_per_node=8, run_in_place=lambda stage: ran.append(stage) or 0, env={"LOCAL_RANK": "0"}
        )
        == 0
    )
    assert ran == [["sft", "--x"], ["dpo"]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stage": []}, "launch: no stage given"),
        ({"stage": ["sft"], "nodes": 0}, "launch: --nodes and --gpus-per-node must be at least 1"),
        ({"stage": ["sft"], "strategy": "tp"}, "launch: strategy 'tp': expected one of ddp, fsdp2, zero3"),
    ],
)
def test_bad_launches_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        launch(run_in_place=lambda stage: 0, env={}, **kwargs)


def test_cli_runs_the_stage_in_place_with_its_own_errors():
    result = cli("launch", "--", "plan", "--run-root", "/r", "--run-sft", "maybe", "--results-dir", "/tmp/x")
    assert result.returncode == 2
    assert result.stderr == "fmops plan: error: --run-sft 'maybe': expected true or false\n"


def test_cli_without_a_stage_is_bad_input():
    result = cli("launch", "--gpus-per-node", "1")
    assert (result.returncode, result.stderr) == (
        2,
        "fmops launch: error: launch: no stage given (usage: fmops launch [options] -- STAGE ...)\n",
    )
