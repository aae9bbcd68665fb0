"""CronWorkflow `fmops-continuous-pretrain`: keep the base model learning from newly landed data, gated.

One cycle, nightly:

    start-model   the registry's `latest` (or the base model the first time): the stable-phase weights it kept
                  (<version>/stable/) to continue from, and the version itself as the baseline
    new-shards    shards under <data-root>/incoming/ whose content no earlier cycle trained on; replay drawn
                  from earlier promoted cycles' shards plus the fixed replay set
    [tokenize]    with -p tokenize=true, the new shards into token shards first (fmops-tokenize)
    pretrain      continue from the stable-phase weights: short re-warm-up, plateau, decay again
    evaluate-*    the candidate and the current `latest`, side by side, same tasks and settings
    gate          the continuous-pretraining rules: forgetting on the replay data, each task's regression
    publish       only when the gate promotes: the candidate becomes `latest`
    record-cycle  the cycle's shards recorded (promoted or not, so a rejected shard is not retrained)

A cycle with no new shards trains nothing and leaves `latest` as it is. The gate's one-line summary is the
workflow's output `gate-summary` and part of the exit handler's notification. concurrencyPolicy Forbid:
a run that outlasts the interval is never overlapped.

    argo cron create ...          # synced by Argo CD; to run one now:
    argo submit -n fmops --from cronwf/fmops-continuous-pretrain
"""

from hera.workflows import DAG, CronWorkflow, SecretEnv, Task
from hera.workflows.models import TemplateRef

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, HOUR, RESULTS_DIR, param
from fmops.argo.templates.training import scaling_params

PARAMS = [
    param("storage-root", "URI under which runs, watermarks and the model registry live", "s3://fmops-data/fmops"),
    param("data-root", "URI with incoming/ (new shards), eval/ (the evaluation tasks' data) and the fixed replay set",
          "s3://fmops-data/demo"),
    param("fixed-replay", "file under data-root replayed in every cycle besides earlier cycles' shards ('' for none)",
          "replay.jsonl"),
    param("model-name", "registry name of the continually pretrained model", "demo"),
    param("base-model", "model to start from when the registry has no 'latest' yet", "tiny"),
    param("recipe", "pretraining recipe: a packaged name or a YAML URI", "demo"),
    param("replay-ratio", "share of training sequences replayed from earlier data ('' for the recipe's)", "0.25"),
    param("replay-shards", "earlier cycles' shards replayed per cycle, at most", "8"),
    param("eval-tasks", "comma-separated lm-eval tasks", "demo"),
    param("eval-limit", "samples per evaluation task ('' for all)", ""),
    param("tokenize", "tokenize the new shards into token shards first (fmops-tokenize): for large shards",
          "false", enum=["true", "false"]),
    param("gate-rules", "rules a candidate must pass to become latest: a packaged name or a YAML URI", "continuous"),
    *scaling_params(),
]  # fmt: skip

W = "{{workflow.parameters.%s}}"
ROOT, NAME = W % "storage-root", W % "model-name"
RUN_OUTPUT = f"{ROOT}/runs/{{{{workflow.name}}}}"
WATERMARK = f"{ROOT}/watermarks/{NAME}"
START, SHARDS = "{{tasks.start-model.outputs.parameters.%s}}", "{{tasks.new-shards.outputs.parameters.%s}}"
# The baseline's evaluation exists only when there was a baseline to evaluate (not for a model built from scratch).
BASELINE_EVAL = (
    f"{{{{=tasks['start-model'].outputs.parameters.baseline == '' ? '' : {common.run_path('eval-baseline')}}}}}"
)
FIXED_REPLAY = (
    "{{=workflow.parameters['fixed-replay'] == '' ? '' : "
    "workflow.parameters['data-root'] + '/' + workflow.parameters['fixed-replay']}}"
)

with CronWorkflow(
    name="fmops-continuous-pretrain",
    **common.cron_options("0 2 * * *", starting_deadline=HOUR, keep_succeeded=7, keep_failed=7),
    entrypoint="continuous-pretrain",
    on_exit="record-status",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: continuous pretraining",
        "Nightly: continue pretraining latest on new shards with replay; publish only what the gate promotes.",
        deadline=2 * DAY,
    ),
) as workflow:
    start_model = common.cpu_container(
        "start-model",
        ["registry", "resolve", "--root", ROOT, "--name", NAME, "--pointer", "latest",
         "--fallback", W % "base-model", "--results-dir", RESULTS_DIR],
        outputs=[common.result(name, name) for name in ("model", "continue-from", "baseline")],
    )  # fmt: skip
    new_shards = common.cpu_container(
        "new-shards",
        ["shards", "list", "--incoming", f"{W % 'data-root'}/incoming", "--watermark", WATERMARK,
         "--cycle", "{{workflow.name}}", "--fixed-replay", FIXED_REPLAY,
         "--replay-shards", W % "replay-shards", "--replay-ratio", W % "replay-ratio", "--results-dir", RESULTS_DIR],
        outputs=[common.result(name, name) for name in ("new-shards", "count", "replay", "replay-ratio")],
    )  # fmt: skip
    publish = common.cpu_container(
        "publish",
        ["registry", "publish", "--root", ROOT, "--name", NAME, "--source", f"{RUN_OUTPUT}/pretrain",
         "--evaluation", f"{RUN_OUTPUT}/eval", "--pointer", "latest"],
    )  # fmt: skip
    record_cycle = common.cpu_container(
        "record-cycle",
        ["shards", "commit", "--watermark", WATERMARK, "--cycle", "{{workflow.name}}",
         "--promoted", "{{inputs.parameters.promoted}}"],
        inputs=common.bare("promoted"),
    )  # fmt: skip
    record_status = common.cpu_container(
        "record-status",
        ["notify", "--workflow", "{{workflow.name}}", "--status", "{{workflow.status}}",
         "--failures", "{{workflow.failures}}", "--record", f"{RUN_OUTPUT}/status.json",
         "--summary", f"{RUN_OUTPUT}/gate/summary"],
        env=[SecretEnv(name="FMOPS_WEBHOOK_URL", secret_name="fmops-notify", secret_key="webhook-url",
                       optional=True)],
    )  # fmt: skip

    def evaluation(name: str, model: str, output: str, **options) -> Task:
        arguments = {"model": model, "tasks": W % "eval-tasks", "task-data": f"{W % 'data-root'}/eval",
                     "output": output, "limit": W % "eval-limit"}  # fmt: skip
        return Task(name=name, template_ref=TemplateRef(name="fmops-evaluate", template="evaluate"),
                    depends="pretrain.Succeeded", arguments=arguments, **options)  # fmt: skip

    with DAG(name="continuous-pretrain"):
        Task(name="start-model", template=start_model)
        Task(name="new-shards", template=new_shards)
        Task(
            name="tokenize",
            template_ref=TemplateRef(name="fmops-tokenize", template="tokenize"),
            depends="start-model && new-shards",
            when=f"{SHARDS % 'count'} > 0 && {W % 'tokenize'} == true",
            arguments={"model": START % "continue-from", "data": SHARDS % "new-shards",
                       "output": f"{RUN_OUTPUT}/tokens"},
        )  # fmt: skip
        Task(
            name="pretrain",
            template_ref=TemplateRef(name="fmops-pretrain", template="pretrain"),
            depends="start-model && new-shards && (tokenize.Succeeded || tokenize.Skipped)",
            when=f"{SHARDS % 'count'} > 0",
            arguments={
                "model": START % "continue-from",
                "data": common.tokenized_or_raw("tasks['new-shards'].outputs.parameters['new-shards']"),
                "replay": SHARDS % "replay",
                "replay-ratio": SHARDS % "replay-ratio",
                "output": f"{RUN_OUTPUT}/pretrain",
                "recipe": W % "recipe",
                "nodes": W % "nodes",
                "gpus-per-node": W % "gpus-per-node",
                "efa-per-node": W % "efa-per-node",
                "strategy": W % "strategy",
            },
        )
        evaluation("evaluate-candidate", f"{RUN_OUTPUT}/pretrain", f"{RUN_OUTPUT}/eval")
        evaluation("evaluate-baseline", START % "baseline", f"{RUN_OUTPUT}/eval-baseline",
                   when=f"'{START % 'baseline'}' != ''")  # fmt: skip
        Task(
            name="gate",
            template_ref=TemplateRef(name="fmops-evaluate", template="gate"),
            depends="evaluate-candidate.Succeeded && (evaluate-baseline.Succeeded || evaluate-baseline.Skipped)",
            arguments={
                "candidate": f"{RUN_OUTPUT}/eval",
                "baseline": BASELINE_EVAL,
                "rules": W % "gate-rules",
                "training": f"{RUN_OUTPUT}/pretrain",
                "output": f"{RUN_OUTPUT}/gate",
            },
        )
        Task(name="publish", template=publish, depends="gate.Succeeded",
             when="{{tasks.gate.outputs.parameters.promote}} == true")  # fmt: skip
        Task(
            name="record-cycle",
            template=record_cycle,
            depends="gate.Succeeded && (publish.Succeeded || publish.Skipped)",
            arguments={"promoted": "{{tasks.gate.outputs.parameters.promote}}"},
        )
