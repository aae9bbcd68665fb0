"""CronWorkflow `fmops-continuous-pretrain`: keep the base model learning from newly landed data.

Nightly: start from the registry's `latest` version (or the base model the first time), train on the shards
under <data-root>/incoming/ that the watermark has not seen, replaying <data-root>/replay.jsonl against
forgetting; evaluate against `latest`; publish the result as the new `latest`; then advance the watermark.
concurrencyPolicy Forbid: a run that outlasts the interval is never overlapped.

    argo cron create ...          # synced by Argo CD; to run one now:
    argo submit -n fmops --from cronwf/fmops-continuous-pretrain
"""

from hera.workflows import DAG, CronWorkflow, Task
from hera.workflows.models import TemplateRef

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, HOUR, RESULTS_DIR, param
from fmops.argo.templates.training import scaling_params

PARAMS = [
    param("storage-root", "URI under which runs, watermarks and the model registry live", "s3://fmops-data/fmops"),
    param("data-root", "URI with incoming/ (new shards) and replay.jsonl (earlier corpora)", "s3://fmops-data/demo"),
    param("model-name", "registry name of the continually pretrained model", "demo"),
    param("base-model", "model to start from when the registry has no 'latest' yet", "tiny"),
    param("recipe", "pretraining recipe: a packaged name or a YAML URI", "demo"),
    param("replay-ratio", "share of training tokens replayed from earlier corpora", "0.25"),
    param("eval-tasks", "comma-separated lm-eval tasks", "demo"),
    *scaling_params(),
]  # fmt: skip

W = "{{workflow.parameters.%s}}"
ROOT, NAME = W % "storage-root", W % "model-name"
RUN_OUTPUT = f"{ROOT}/runs/{{{{workflow.name}}}}"
WATERMARK = f"{ROOT}/watermarks/{NAME}.json"

with CronWorkflow(
    name="fmops-continuous-pretrain",
    **common.cron_options("0 2 * * *", starting_deadline=HOUR, keep_succeeded=7, keep_failed=7),
    entrypoint="continuous-pretrain",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: continuous pretraining",
        "Nightly: continue pretraining the latest model version on new shards, with replay; publish as latest.",
        deadline=2 * DAY,
    ),
) as workflow:
    start_model = common.cpu_container(
        "start-model",
        ["registry", "resolve", "--root", ROOT, "--name", NAME, "--pointer", "latest",
         "--fallback", W % "base-model", "--results-dir", RESULTS_DIR],
        outputs=[common.result("model", "model")],
    )  # fmt: skip
    new_shards = common.cpu_container(
        "new-shards",
        ["shards", "list", "--incoming", f"{W % 'data-root'}/incoming", "--watermark", WATERMARK,
         "--results-dir", RESULTS_DIR],
        outputs=[common.result("shards", "new-shards"), common.result("count", "count")],
    )  # fmt: skip
    publish = common.cpu_container(
        "publish",
        ["registry", "publish", "--root", ROOT, "--name", NAME, "--source", f"{RUN_OUTPUT}/pretrain",
         "--evaluation", f"{RUN_OUTPUT}/eval", "--pointer", "latest"],
    )  # fmt: skip
    advance = common.cpu_container(
        "advance-watermark",
        ["shards", "commit", "--watermark", WATERMARK, "--shards", "{{inputs.parameters.shards}}"],
        inputs=common.bare("shards"),
    )
    with DAG(name="continuous-pretrain"):
        Task(name="start-model", template=start_model)
        Task(name="new-shards", template=new_shards)
        Task(
            name="pretrain",
            template_ref=TemplateRef(name="fmops-pretrain", template="pretrain"),
            depends="start-model && new-shards",
            when="{{tasks.new-shards.outputs.parameters.count}} > 0",
            arguments={
                "model": "{{tasks.start-model.outputs.parameters.model}}",
                "data": "{{tasks.new-shards.outputs.parameters.shards}}",
                "replay": f"{W % 'data-root'}/replay.jsonl",
                "replay-ratio": W % "replay-ratio",
                "output": f"{RUN_OUTPUT}/pretrain",
                "recipe": W % "recipe",
                "nodes": W % "nodes",
                "gpus-per-node": W % "gpus-per-node",
                "efa-per-node": W % "efa-per-node",
                "strategy": W % "strategy",
            },
        )
        Task(
            name="evaluate",
            template_ref=TemplateRef(name="fmops-evaluate", template="evaluate"),
            depends="pretrain.Succeeded",
            arguments={
                "model": f"{RUN_OUTPUT}/pretrain",
                "tasks": W % "eval-tasks",
                "task-data": f"{W % 'data-root'}/eval",
                "baseline": f"{ROOT}/models/{NAME}/latest",
                "output": f"{RUN_OUTPUT}/eval",
            },
        )
        Task(name="publish", template=publish, depends="evaluate")
        Task(
            name="advance-watermark",
            template=advance,
            depends="publish",
            arguments={"shards": "{{tasks.new-shards.outputs.parameters.shards}}"},
        )
