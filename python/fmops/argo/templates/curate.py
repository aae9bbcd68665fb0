"""WorkflowTemplate `fmops-curate`: dedup, filter, redact and decontaminate text shards before they are tokenized.

    argo submit -n fmops --from workflowtemplate/fmops-curate -p data=s3://bucket/data/incoming/ \
        -p output=s3://bucket/fmops/runs/r1/curated -p history=s3://bucket/fmops/curate-history/demo

plan (checks the inputs, deals the files into shard groups) -> one CPU pod per group (filters, PII, signatures;
an Argo loop over the plan's groups) -> join (exact and MinHash dedup across every group and the history,
writes <output>/documents/). The template `record-history` adds a finished run's signatures to the history;
the continuous cycle calls it once its gate promoted. The pipeline and continuous pretraining run it with
-p curate=true. Manual: python/fmops/curate/README.md
"""

from hera.workflows import DAG, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, RESULTS_DIR, TRAIN_IMAGE, param

PARAMS = [
    param("data", "one or more URIs (comma-separated) of JSONL {text, ...}, .txt or parquet shards"),
    param("output", "URI of the curated set (documents/*.jsonl, metrics.json, manifest.json)"),
    param("history", "URI of earlier cycles' MinHash signatures ('' or missing: none yet)", ""),
    param("config", "curate recipe: a packaged name (recipes/curate/) or a YAML URI", "base"),
    param("decontaminate", "evaluation task data (JSONL files or dirs, comma-separated; '' for the demo tasks')", ""),
]
NAMES = [p.name for p in PARAMS]
INPUTS = "{{inputs.parameters.%s}}"


def curate_flags(*names: str) -> dict[str, str]:
    return {f"--{name}": INPUTS % name for name in names}


def curate_step(name: str, phase: str, *, extra: dict[str, str] | None = None, **options):
    """One phase of `fmops curate` on the CPU pool, with every input of the template."""
    flags = {**curate_flags(*NAMES), "--phase": phase, **(extra or {})}
    return common.cpu_container(
        name,
        common.command_line("curate", flags),
        image=TRAIN_IMAGE,
        deadline=DAY,
        retry_strategy=common.retry_strategy(),
        **options,
    )


with WorkflowTemplate(
    name="fmops-curate",
    entrypoint="curate",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: curate",
        "Deduplicate (also against earlier cycles), filter, redact PII and decontaminate text shards on datatrove.",
        deadline=2 * DAY,
    ),
) as workflow:
    plan_groups = curate_step(
        "plan",
        "plan",
        extra={"--results-dir": RESULTS_DIR},
        inputs=common.bare(*NAMES),
        outputs=[common.result("groups", "groups"), common.result("tasks", "tasks")],
    )
    filter_group = curate_step(
        "filter",
        "filter",
        extra={"--rank": INPUTS % "rank"},
        inputs=common.bare(*NAMES, "rank"),
        cpu=4,
        memory_gib=8,
    )
    join_groups = curate_step(
        "join",
        "join",
        extra={"--results-dir": RESULTS_DIR},
        inputs=common.bare(*NAMES),
        cpu=4,
        memory_gib=16,
        outputs=[
            common.result("summary", "summary", global_name="curate-summary"),
            common.result("documents", "documents"),
        ],
    )
    common.cpu_container(
        "record-history",
        [*common.command_line("curate", curate_flags(*NAMES)), "--record-history"],
        image=TRAIN_IMAGE,
        inputs=PARAMS,
        retry_strategy=common.retry_strategy(),
    )

    with DAG(
        name="curate",
        inputs=PARAMS,
        outputs=[
            common.from_task("summary", "join", "summary"),
            common.from_task("documents", "join", "documents"),
        ],
    ):
        plan = plan_groups(arguments=common.inputs(*NAMES))
        groups = filter_group(
            name="filter",
            arguments={**common.inputs(*NAMES), "rank": "{{item}}"},
            with_param="{{tasks.plan.outputs.parameters.groups}}",
        )
        join = join_groups(arguments=common.inputs(*NAMES))
        plan >> groups >> join
