"""The glue steps the WorkflowTemplates call: launch, collect, plan, shards, allreduce, notify, trainjob-failure."""

from __future__ import annotations

import argparse
import json
import os
import sys

from fmops.cli.command import Command
from fmops.core.errors import InputError
from fmops.steps import allreduce, collect, launch, notify, plan, shards, trainjob

LAUNCH = """Run a stage on one process, or on many under `accelerate launch` (DDP, FSDP2 or ZeRO-3).

    fmops launch --gpus-per-node 8 --strategy fsdp2 -- pretrain --model s3://b/base --data s3://b/new ...

Every training template calls its stage through this, so one line serves a laptop (in-process), an 8-GPU
node, and every node of a Kubeflow PyTorchJob (MASTER_ADDR, MASTER_PORT and RANK come from the operator).
"""

COLLECT = """Check that a stage output is complete and copy its small results where Argo picks them up.

    fmops collect --output s3://bucket/fmops/runs/r1/pretrain --results-dir /tmp/fmops/results

Copies metrics.json, loss.png, report.md and chart.png, those the output has; no manifest.json: exit 2.
"""

PLAN = """Work out, for one pipeline run, which model each phase starts from and where each writes.

    fmops plan --run-root s3://bucket/fmops/runs/wf-abc --base-model tiny \\
        --run-pretrain true --run-sft true --run-dpo false --results-dir /tmp/fmops/results

A skipped phase's successor starts from the last phase that runs (or the base model); one output parameter
file per URI in --results-dir, plus plan.json.
"""

SHARDS = """Which data shards a continuous-pretraining cycle trains on and replays; the record of each cycle.

    fmops shards list --incoming s3://bucket/data/incoming --watermark s3://bucket/fmops/watermarks/demo \\
        --cycle fmops-continuous-pretrain-1733100000 --fixed-replay s3://bucket/data/replay.jsonl \\
        --results-dir /tmp/fmops/results
    fmops shards commit --watermark s3://bucket/fmops/watermarks/demo --cycle fmops-continuous-pretrain-1733100000 \\
        --promoted true

A shard is new when its content (sha256 locally, the ETag on S3) is in no earlier cycle's record.
Layout: fmops.steps.shards.
"""

ALLREDUCE = """Measure all-reduce bus bandwidth across every process of a torchrun job (NCCL on GPUs, gloo on CPU).

    torchrun --nproc_per_node 8 -m fmops.cli allreduce --size-mb 256

Rank 0 prints one JSON line and, with --output, writes metrics.json and manifest.json. busbw follows
nccl-tests (algbw * 2 (n - 1) / n). With --min-busbw-gbps it exits 1 below that floor.
"""

NOTIFY = """Record how a workflow ended and, when a webhook URL is configured, post it there.

    fmops notify --workflow wf-abc --status Failed --record s3://bucket/fmops/runs/wf-abc/status.json

The webhook URL comes from $FMOPS_WEBHOOK_URL (Secret `fmops-notify`); the body is Slack-compatible JSON.
An unreachable webhook is a warning, not a failure.
"""

TRAINJOB_FAILURE = """Say in one line why a run's TrainJob failed, and exit 1.

    fmops trainjob-failure --namespace fmops --selector fmops.io/job=<workflow uid>-pretrain

The training templates run it when their TrainJob step failed: it lists the TrainJobs with the selector's
labels (each retry made one) and prints the newest one's Failed condition, reason and message, on stderr.
It exits 1 whatever it finds, since it runs only to fail the step with that line; 2 on a bad selector.
Layout: fmops.steps.trainjob.
"""


def launch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (PyTorchJob replicas)")
    parser.add_argument("--gpus-per-node", type=int, default=1, help="processes per node, one per GPU")
    parser.add_argument("--strategy", choices=launch.STRATEGIES, default="ddp", help="how to shard across processes")
    parser.add_argument("stage", nargs=argparse.REMAINDER, help="-- STAGE [stage arguments]")


def launch_stage(args: argparse.Namespace) -> int:
    from fmops.cli import main  # the stage runs through this same entry, in this process when it is one

    stage = args.stage[1:] if args.stage[:1] == ["--"] else list(args.stage)
    return launch.launch(
        stage=stage, nodes=args.nodes, gpus_per_node=args.gpus_per_node, strategy=args.strategy, run_in_place=main
    )


def collect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="a stage output directory (path or URI)")
    parser.add_argument("--results-dir", required=True, help="local directory to copy small results into")


def collect_results(args: argparse.Namespace) -> int:
    for copy, source in collect.collect(output=args.output, results_dir=args.results_dir).items():
        print(f"{copy}  (from {source})")
    return 0


def plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-root", required=True, help="URI under which this run's outputs go")
    parser.add_argument("--base-model", default="", help="model the first phase that runs starts from")
    for phase in plan.PHASES:
        parser.add_argument(f"--run-{phase}", default="true", help=f"true|false: run the {phase} phase")
    parser.add_argument("--results-dir", required=True, help="local directory for the output parameters")


def boolean(value: str, flag: str) -> bool:
    """Argo passes booleans as the words true and false; anything else is refused, not read as false."""
    if value not in ("true", "false"):
        raise InputError(f"--{flag} {value!r}: expected true or false")
    return value == "true"


def plan_run(args: argparse.Namespace) -> int:
    runs = {phase: boolean(getattr(args, f"run_{phase}"), f"run-{phase}") for phase in plan.PHASES}
    outputs = plan.plan(run_root=args.run_root, base_model=args.base_model, runs=runs, results_dir=args.results_dir)
    print(json.dumps(outputs, indent=2))
    return 0


def shards_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "commit"])
    parser.add_argument("--watermark", required=True, help="URI prefix of the cycles' records")
    parser.add_argument("--cycle", required=True, help="this cycle's name (the workflow's name)")
    parser.add_argument("--incoming", default="", help="list: the prefix new shards land under")
    parser.add_argument("--fixed-replay", default="", help="list: data replayed in every cycle ('' = none)")
    parser.add_argument("--replay-shards", type=int, default=8, help="list: earlier shards replayed, at most")
    parser.add_argument("--replay-ratio", default="", help="list: share of training replayed ('' = the recipe's)")
    parser.add_argument("--results-dir", default="", help="list: local directory for output parameters")
    parser.add_argument("--promoted", choices=["true", "false"], default="", help="commit: the gate's decision")


def shards_action(args: argparse.Namespace) -> int:
    if args.action == "commit":
        if not args.promoted:
            raise InputError("shards commit: --promoted true|false is required")
        record = shards.commit(watermark=args.watermark, cycle=args.cycle, promoted=args.promoted == "true")
        outcome = "promoted" if record["promoted"] else "not promoted: its shards are not replayed"
        print(f"{args.watermark}: cycle {args.cycle} recorded with {len(record['shards'])} shard(s), {outcome}")
        return 0
    if not args.incoming:
        raise InputError("shards list: --incoming is required")
    cycle = shards.plan_cycle(
        incoming=args.incoming,
        watermark=args.watermark,
        cycle=args.cycle,
        fixed_replay=args.fixed_replay,
        replay_shards=args.replay_shards,
        replay_ratio=args.replay_ratio,
        results_dir=args.results_dir,
    )
    print(f"{len(cycle.new)} new shard(s) under {args.incoming}; {len(cycle.replay)} replayed", flush=True)
    for shard in cycle.new:
        print(f"  new     {shard['uri']} ({shard['size']} bytes, {shard['checksum'][:19]})")
    for uri in cycle.replay:
        print(f"  replay  {uri}")
    return 0


def allreduce_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size-mb", type=float, default=256.0, help="message size in MiB")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (after 5 warm-up)")
    parser.add_argument("--output", default="", help="URI to write metrics.json and manifest.json to (rank 0)")
    parser.add_argument(
        "--min-busbw-gbps",
        type=float,
        default=0.0,
        help="fail (exit 1) when the bus bandwidth is below this many GB/s; 0: no floor",
    )


def measure_allreduce(args: argparse.Namespace) -> int:
    allreduce.allreduce(size_mb=args.size_mb, iters=args.iters, output=args.output, min_busbw_gbps=args.min_busbw_gbps)
    return 0


def notify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflow", required=True, help="the workflow's name")
    parser.add_argument("--status", required=True, help="Succeeded, Failed or Error")
    parser.add_argument("--failures", default="", help="Argo's JSON list of failed nodes, if any")
    parser.add_argument("--record", default="", help="URI to write the status record to")
    parser.add_argument("--summary", default="", help="URI of a one-line outcome a step wrote (used if it exists)")


def notify_end(args: argparse.Namespace) -> int:
    done = notify.notify(
        workflow=args.workflow,
        status=args.status,
        failures=args.failures,
        record=args.record,
        webhook_url=os.environ.get("FMOPS_WEBHOOK_URL", ""),
        summary=args.summary,
    )
    if args.record:
        print(f"status recorded at {args.record}")
    if done.webhook == "notified":
        print("webhook notified")
    elif done.webhook:
        print(f"warning: webhook {done.webhook}", file=sys.stderr)
    print(json.dumps(done.record))
    return 0


def trainjob_failure_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", default="fmops", help="the TrainJobs' namespace (default fmops)")
    parser.add_argument("--selector", required=True, help="label selector of the run's TrainJobs")


def report_trainjob_failure(args: argparse.Namespace) -> int:
    try:
        line = trainjob.trainjob_failure(namespace=args.namespace, selector=args.selector)
    except trainjob.ClusterError as error:
        line = f"could not read why the TrainJob failed: {error}"
    print(line, file=sys.stderr)
    return 1


COMMANDS = {
    "launch": Command(LAUNCH, launch_arguments, launch_stage),
    "collect": Command(COLLECT, collect_arguments, collect_results),
    "plan": Command(PLAN, plan_arguments, plan_run),
    "shards": Command(SHARDS, shards_arguments, shards_action),
    "allreduce": Command(ALLREDUCE, allreduce_arguments, measure_allreduce),
    "notify": Command(NOTIFY, notify_arguments, notify_end),
    "trainjob-failure": Command(TRAINJOB_FAILURE, trainjob_failure_arguments, report_trainjob_failure),
}
