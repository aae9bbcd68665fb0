"""WorkflowTemplate `fmops-continuous-pretrain`, run nightly by CronWorkflow `fmops-continuous-pretrain-cron`:
continue pretraining `latest` on newly landed data, gated.

    argo submit -n fmops --from workflowtemplate/fmops-continuous-pretrain     # one cycle now

A cycle continues from the stable-phase weights `latest` kept, on the shards under <data-root>/incoming/ that no
earlier cycle trained on, with replay; evaluates the candidate and `latest` side by side; publishes the candidate
as `latest` only when the gate promotes it; and records the shards either way, so a rejected shard is not
retrained. With -p curate=true the new shards are curated first (fmops-curate): deduplicated, also against the
signatures of every promoted cycle, filtered, PII-redacted and decontaminated; their signatures join that history
once the gate promotes. A cycle with no new shards trains nothing. Runs never overlap (concurrencyPolicy Forbid).
"""

from hera.workflows import DAG, Task, WorkflowTemplate
from hera.workflows.models import TemplateRef

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, HOUR, RESULTS_DIR, param, succeeded, succeeded_or_skipped
from fmops.argo.templates.training import scaling_params

PARAMS = [
    param("storage-root", "URI under which runs, watermarks and the model registry live", "s3://fmops-data/fmops"),
    param(
        "data-root",
        "URI with incoming/ (new shards), eval/ (the evaluation tasks' data) and the fixed replay set",
        "s3://fmops-data/demo",
    ),
    param(
        "fixed-replay",
        "file under data-root replayed in every cycle besides earlier cycles' shards ('' for none)",
        "replay.jsonl",
    ),
    param("model-name", "registry name of the continually pretrained model", "demo"),
    param("base-model", "model to start from when the registry has no 'latest' yet", "tiny"),
    param("recipe", "pretraining recipe: a packaged name or a YAML URI", "demo"),
    param("replay-ratio", "share of training sequences replayed from earlier data ('' for the recipe's)", "0.25"),
    param("replay-shards", "earlier cycles' shards replayed per cycle, at most", "8"),
    param("eval-tasks", "comma-separated lm-eval tasks", "demo"),
    param("eval-limit", "samples per evaluation task ('' for all)", ""),
    param(
        "tokenize",
        "tokenize the new shards into token shards first (fmops-tokenize): for large shards",
        "false",
        enum=["true", "false"],
    ),
    param(
        "curate",
        "curate the new shards first (fmops-curate): dedup, also against every promoted cycle, filters, PII, "
        "decontamination against eval/",
        "false",
        enum=["true", "false"],
    ),
    param("curate-recipe", "curate recipe: a packaged name (recipes/curate/) or a YAML URI", "demo"),
    param("gate-rules", "rules a candidate must pass to become latest: a packaged name or a YAML URI", "continuous"),
    *scaling_params(),
]

W = "{{workflow.parameters.%s}}"
ROOT, NAME = W % "storage-root", W % "model-name"
RUN_OUTPUT = f"{ROOT}/runs/{{{{workflow.name}}}}"
WATERMARK = f"{ROOT}/watermarks/{NAME}"
CURATE_HISTORY = f"{ROOT}/curate-history/{NAME}"
NEW_SHARDS = "tasks['new-shards'].outputs.parameters['new-shards']"
START, SHARDS = "{{tasks.start-model.outputs.parameters.%s}}", "{{tasks.new-shards.outputs.parameters.%s}}"
PROMOTE = "{{tasks.gate.outputs.parameters.promote}}"
# The baseline's evaluation exists only when there was a baseline to evaluate (not for a model built from scratch).
BASELINE_EVAL = (
    f"{{{{=tasks['start-model'].outputs.parameters.baseline == '' ? '' : {common.run_path('eval-baseline')}}}}}"
)
FIXED_REPLAY = (
    "{{=workflow.parameters['fixed-replay'] == '' ? '' : "
    "workflow.parameters['data-root'] + '/' + workflow.parameters['fixed-replay']}}"
)


def curation(name: str, template: str, **options) -> Task:
    """The new shards through fmops-curate: `curate` before training, `record-history` once the gate promoted."""
    return Task(
        name=name,
        template_ref=TemplateRef(name="fmops-curate", template=template),
        arguments={
            "data": SHARDS % "new-shards",
            "output": f"{RUN_OUTPUT}/curated",
            "history": CURATE_HISTORY,
            "config": W % "curate-recipe",
            "decontaminate": f"{W % 'data-root'}/eval",
        },
        **options,
    )


def evaluation(name: str, model: str, output: str, **options) -> Task:
    """The candidate or the baseline through fmops-evaluate, with the same tasks and settings."""
    arguments = {
        "model": model,
        "tasks": W % "eval-tasks",
        "task-data": f"{W % 'data-root'}/eval",
        "output": output,
        "limit": W % "eval-limit",
    }
    return Task(
        name=name,
        template_ref=TemplateRef(name="fmops-evaluate", template="evaluate"),
        arguments=arguments,
        **options,
    )


with WorkflowTemplate(
    name="fmops-continuous-pretrain",
    entrypoint="continuous-pretrain",
    on_exit="record-status",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: continuous pretraining",
        "Nightly: continue pretraining latest on new shards with replay; publish only what the gate promotes.",
        deadline=2 * DAY,
    ),
) as workflow:
    resolve_start_model = common.cpu_container(
        "start-model",
        common.command_line(
            "registry resolve",
            {
                "--root": ROOT,
                "--name": NAME,
                "--pointer": "latest",
                "--fallback": W % "base-model",
                "--results-dir": RESULTS_DIR,
            },
        ),
        outputs=[common.result(name, name) for name in ("model", "continue-from", "baseline")],
    )
    list_new_shards = common.cpu_container(
        "new-shards",
        common.command_line(
            "shards list",
            {
                "--incoming": f"{W % 'data-root'}/incoming",
                "--watermark": WATERMARK,
                "--cycle": "{{workflow.name}}",
                "--fixed-replay": FIXED_REPLAY,
                "--replay-shards": W % "replay-shards",
                "--replay-ratio": W % "replay-ratio",
                "--results-dir": RESULTS_DIR,
            },
        ),
        outputs=[common.result(name, name) for name in ("new-shards", "count", "replay", "replay-ratio")],
    )
    publish_candidate = common.cpu_container(
        "publish",
        common.command_line(
            "registry publish",
            {
                "--root": ROOT,
                "--name": NAME,
                "--source": f"{RUN_OUTPUT}/pretrain",
                "--evaluation": f"{RUN_OUTPUT}/eval",
                "--pointer": "latest",
            },
        ),
        **common.registry_writer(),
    )
    commit_shards = common.cpu_container(
        "record-cycle",
        common.command_line(
            "shards commit",
            {"--watermark": WATERMARK, "--cycle": "{{workflow.name}}", "--promoted": "{{inputs.parameters.promoted}}"},
        ),
        inputs=common.bare("promoted"),
    )
    # The exit handler: how the run ended, with the gate's one-line summary (also the output `gate-summary`).
    record_status = common.cpu_container(
        "record-status",
        common.command_line(
            "notify",
            {
                "--workflow": "{{workflow.name}}",
                "--status": "{{workflow.status}}",
                "--failures": "{{workflow.failures}}",
                "--record": f"{RUN_OUTPUT}/status.json",
                "--summary": f"{RUN_OUTPUT}/gate/summary",
            },
        ),
        env=[common.WEBHOOK_ENV],
    )

    with DAG(name="continuous-pretrain"):
        start_model = resolve_start_model()
        new_shards = list_new_shards()
        curate = curation("curate", "curate", when=f"{SHARDS % 'count'} > 0 && {W % 'curate'} == true")
        tokenize = Task(
            name="tokenize",
            template_ref=TemplateRef(name="fmops-tokenize", template="tokenize"),
            when=f"{SHARDS % 'count'} > 0 && {W % 'tokenize'} == true",
            arguments={
                "model": START % "continue-from",
                "data": common.expression(common.curated_or_raw(NEW_SHARDS)),
                "output": f"{RUN_OUTPUT}/tokens",
            },
        )
        pretrain = Task(
            name="pretrain",
            template_ref=TemplateRef(name="fmops-pretrain", template="pretrain"),
            when=f"{SHARDS % 'count'} > 0",
            arguments={
                "model": START % "continue-from",
                "data": common.tokenized_or_raw(common.curated_or_raw(NEW_SHARDS)),
                "replay": SHARDS % "replay",
                "replay-ratio": SHARDS % "replay-ratio",
                "output": f"{RUN_OUTPUT}/pretrain",
                "recipe": W % "recipe",
                "nodes": W % "nodes",
                "gpus-per-node": W % "gpus-per-node",
                "efa-per-node": W % "efa-per-node",
                "strategy": W % "strategy",
                "job-kind": W % "job-kind",
            },
        )
        evaluate_candidate = evaluation("evaluate-candidate", f"{RUN_OUTPUT}/pretrain", f"{RUN_OUTPUT}/eval")
        evaluate_baseline = evaluation(
            "evaluate-baseline",
            START % "baseline",
            f"{RUN_OUTPUT}/eval-baseline",
            when=f"'{START % 'baseline'}' != ''",
        )
        gate = Task(
            name="gate",
            template_ref=TemplateRef(name="fmops-evaluate", template="gate"),
            arguments={
                "candidate": f"{RUN_OUTPUT}/eval",
                "baseline": BASELINE_EVAL,
                "rules": W % "gate-rules",
                "training": f"{RUN_OUTPUT}/pretrain",
                "output": f"{RUN_OUTPUT}/gate",
            },
        )
        publish = publish_candidate(when=f"{PROMOTE} == true")
        # like the watermark, the history takes a cycle's documents only once they were trained on and promoted
        record_history = curation(
            "record-history", "record-history", when=f"{PROMOTE} == true && {W % 'curate'} == true"
        )
        record_cycle = commit_shards(arguments={"promoted": PROMOTE})

        [start_model, new_shards] >> curate
        [start_model, new_shards, succeeded_or_skipped(curate)] >> tokenize
        [start_model, new_shards, succeeded_or_skipped(curate), succeeded_or_skipped(tokenize)] >> pretrain
        pretrain.on_success(evaluate_candidate)
        pretrain.on_success(evaluate_baseline)
        [succeeded(evaluate_candidate), succeeded_or_skipped(evaluate_baseline)] >> gate
        gate.on_success(publish)
        [succeeded(gate), succeeded_or_skipped(publish)] >> record_history
        [succeeded(gate), succeeded_or_skipped(publish), succeeded_or_skipped(record_history)] >> record_cycle

schedule = common.scheduled(
    workflow,
    PARAMS,
    common.cron_options("0 2 * * *", starting_deadline=HOUR, keep_succeeded=7, keep_failed=7),
    "fmops: continuous pretraining, nightly",
)
workflows = [workflow, schedule]
