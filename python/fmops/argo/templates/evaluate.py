"""WorkflowTemplate `fmops-evaluate`: lm-evaluation-harness on a model, and the promotion gate.

    argo submit -n fmops --from workflowtemplate/fmops-evaluate \
        -p model=s3://bucket/runs/r1/dpo -p output=s3://bucket/runs/r1/eval-final

Templates: `evaluate` (the entrypoint, on a GPU) and `gate` (called by fmops-pipeline).
"""

from hera.workflows import Artifact, Container, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, EVAL_IMAGE, HOUR, RESULTS_DIR, STEP_KIND, param, result

EVALUATE_PARAMS = [
    param("model", "model to evaluate: a complete fmops output, model directory URI or hub id"),
    param("tasks", "comma-separated lm-eval tasks: 'demo' (the packaged demo tasks) or harness task names", "demo"),
    param("task-data", "directory URI holding the demo tasks' JSONL files ('' for the packaged copy)", ""),
    param("baseline", "an earlier evaluation output (or registry version) to compare with ('' for none)", ""),
    param("output", "URI of the output directory (metrics.json, samples, report.md, chart.png)"),
    param("limit", "evaluate at most this many samples per task ('' for all)", ""),
]

GATE_PARAMS = [
    param("candidate", "the candidate's evaluation output URI"),
    param("baseline", "the baseline: evaluation output, registry version or pointer (.../production)", ""),
    param("rules", "a packaged rule set name (demo, safety) or a YAML rules URI", "demo"),
    param("parent", "the evaluation of the model the candidate was trained from ('' for none)", ""),
    param("training", "the candidate's pretraining output, for rules on its forgetting ('' for none)", ""),
    param("output", "URI for the decision (promote, summary, gate.json, reasons.md) ('' for none)", ""),
]


def evaluate_container() -> Container:
    return Container(
        name="evaluate",
        image=EVAL_IMAGE,
        command=["fmops"],
        args=common.command_line(
            "evaluate",
            {
                "--model": "{{inputs.parameters.model}}",
                "--tasks": "{{inputs.parameters.tasks}}",
                "--task-data": "{{inputs.parameters.task-data}}",
                "--baseline": "{{inputs.parameters.baseline}}",
                "--output": "{{inputs.parameters.output}}",
                "--limit": "{{inputs.parameters.limit}}",
                "--results-dir": RESULTS_DIR,
            },
        ),
        inputs=EVALUATE_PARAMS,
        outputs=[
            result("metrics", "metrics.json"),
            Artifact(name="report", path=f"{RESULTS_DIR}/report.md", optional=True),
            Artifact(name="chart", path=f"{RESULTS_DIR}/chart.png", optional=True),
        ],
        env=[common.HF_TOKEN_ENV],
        labels={STEP_KIND: "gpu"},
        # gpu-serve is mostly spot: an interrupted evaluation is run again rather than failing the pipeline.
        retry_strategy=common.retry_strategy(),
        active_deadline_seconds=6 * HOUR,
        **common.gpu_scheduling("gpu-serve", "1"),
    )


def gate_container() -> Container:
    return common.cpu_container(
        "gate",
        common.command_line(
            "gate",
            {
                "--candidate": "{{inputs.parameters.candidate}}",
                "--baseline": "{{inputs.parameters.baseline}}",
                "--rules": "{{inputs.parameters.rules}}",
                "--parent": "{{inputs.parameters.parent}}",
                "--training": "{{inputs.parameters.training}}",
                "--output": "{{inputs.parameters.output}}",
                "--results-dir": RESULTS_DIR,
            },
        ),
        inputs=GATE_PARAMS,
        # The decision, also as the workflow's outputs (`argo get` shows them), whichever workflow calls the gate.
        outputs=[
            result("promote", "promote", global_name="gate-promote"),
            result("summary", "summary", global_name="gate-summary"),
            Artifact(name="decision", path=f"{RESULTS_DIR}/reasons.md", optional=True),
            # the safety table (empty without safety tasks), which the run report of `fmops run` shows too
            Artifact(name="safety", path=f"{RESULTS_DIR}/safety.md", optional=True),
        ],
    )


with WorkflowTemplate(
    name="fmops-evaluate",
    entrypoint="evaluate",
    arguments=[common.argument(p) for p in EVALUATE_PARAMS],
    **common.workflow_options(
        "fmops: evaluation and promotion gate",
        "Evaluate a model with lm-evaluation-harness; the gate decides whether it may be deployed.",
        deadline=DAY,
    ),
) as workflow:
    evaluate_container()
    gate_container()
