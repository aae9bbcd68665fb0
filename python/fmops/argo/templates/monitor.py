"""WorkflowTemplate `fmops-monitor` and CronWorkflow `fmops-monitor-cron`, which runs it on a schedule:
evaluate the served endpoint and record drift.

Every 30 minutes: run the evaluation tasks against the OpenAI-compatible endpoint, append quality and
latency to <storage-root>/monitoring/<model-name>/history.jsonl, and fail (so Argo's metrics and the
alerting on failed workflows see it) when they drift past the thresholds.

    argo submit -n fmops --from workflowtemplate/fmops-monitor     # one check now; Argo CD syncs the schedule
"""

from hera.workflows import Artifact, SecretEnv, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import HOUR, RESULTS_DIR, param, result

PARAMS = [
    param("storage-root", "URI under which the monitoring history lives", "s3://fmops-data/fmops"),
    param("model-name", "served model name (as listed by /v1/models)", "demo"),
    param(
        "endpoint",
        "base URL of the OpenAI-compatible API, including /v1",
        "http://demo.fmops.svc.cluster.local:8000/v1",
    ),
    param("tasks", "comma-separated generation tasks to run against the endpoint", "demo_addition"),
    param("task-data", "directory URI with the tasks' JSONL files ('' for the packaged demo copy)", ""),
]

W = "{{workflow.parameters.%s}}"
# The endpoint's key, under the name the OpenAI client reads.
API_KEY_ENV = SecretEnv(name="OPENAI_API_KEY", secret_name="fmops-serving-api-key", secret_key="api-key", optional=True)

with WorkflowTemplate(
    name="fmops-monitor",
    entrypoint="monitor",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: production monitoring",
        "Evaluate the served endpoint; record quality and latency; alert on drift.",
        deadline=HOUR,
    ),
) as workflow:
    common.cpu_container(
        "monitor",
        common.command_line(
            "monitor",
            {
                "--endpoint": W % "endpoint",
                "--model-name": W % "model-name",
                "--tasks": W % "tasks",
                "--task-data": W % "task-data",
                "--history": f"{W % 'storage-root'}/monitoring/{W % 'model-name'}/history.jsonl",
                "--results-dir": RESULTS_DIR,
            },
        ),
        env=[API_KEY_ENV],
        outputs=[
            result("metrics", "metrics.json"),
            Artifact(name="drift", path=f"{RESULTS_DIR}/drift.md", optional=True),
        ],
        deadline=HOUR,
    )

schedule = common.scheduled(
    workflow,
    PARAMS,
    common.cron_options("*/30 * * * *", starting_deadline=600, keep_succeeded=3, keep_failed=10),
    "fmops: production monitoring, every 30 minutes",
)
workflows = [workflow, schedule]
