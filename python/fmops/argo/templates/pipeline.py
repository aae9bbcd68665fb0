"""WorkflowTemplate `fmops-pipeline`: the whole lifecycle as one DAG of the phase templates.

    argo submit -n fmops --from workflowtemplate/fmops-pipeline -p base-model=s3://bucket/llama-3.1-8b \
        -p pretrain-recipe=8b-h100x8 -p sft-recipe=8b-h100x8 -p dpo-recipe=8b-h100x8 \
        -p nodes=1 -p gpus-per-node=8 -p strategy=fsdp2
    fmops run                      # the same DAG on this machine, tiny model, demo data

demo-data -> plan -> [curate] -> [tokenize] -> pretrain -> sft -> dpo; each trained model is evaluated (so the run
shows what every phase gained); the gate compares the final model with the production baseline and with its
parent (the evaluation of the phase before it: SFT for a DPO model), so a skill or safety behaviour lost in
alignment blocks promotion on the first run too; deploy runs only when the gate says promote. Any phase can be
skipped by a parameter. The exit handler records how the run ended.

Real models add the safety suite (staged under data-root/eval/safety/, see the evaluation manual) and its rules:
`-p eval-tasks=safety -p gate-rules=safety`.
"""

from hera.workflows import DAG, Task, WorkflowTemplate
from hera.workflows.models import TemplateRef

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, RESULTS_DIR, param, succeeded_or_not_run, succeeded_or_skipped
from fmops.argo.templates.training import SCALING as SCALING_INPUTS
from fmops.argo.templates.training import scaling_params

BOOL = ["true", "false"]
PARAMS = [
    param("storage-root", "URI under which runs and the model registry live", "s3://fmops-data/fmops"),
    param(
        "data-root", "URI holding pretrain.jsonl, replay.jsonl, sft.jsonl, dpo.jsonl and eval/", "s3://fmops-data/demo"
    ),
    param("write-demo-data", "write the demo datasets into data-root first", "true", enum=BOOL),
    param("model-name", "name of the model in the registry and in serving", "demo"),
    param("base-model", "model the first phase starts from: 'tiny', hub id or URI", "tiny"),
    param("pretrain-recipe", "continued-pretraining recipe: a packaged name (recipes/pretrain/) or a YAML URI", "demo"),
    param("sft-recipe", "SFT recipe: a packaged name (recipes/sft/) or a YAML URI", "demo"),
    param("dpo-recipe", "DPO recipe: a packaged name (recipes/dpo/) or a YAML URI", "demo"),
    param("replay-ratio", "share of pretraining tokens replayed from replay.jsonl", "0.1"),
    param(
        "tokenize",
        "tokenize pretrain.jsonl into token shards first (fmops-tokenize): for corpora larger than memory",
        "false",
        enum=BOOL,
    ),
    param(
        "curate",
        "curate pretrain.jsonl first (fmops-curate: dedup, quality filters, PII, decontamination against eval/)",
        "false",
        enum=BOOL,
    ),
    param("curate-recipe", "curate recipe: a packaged name (recipes/curate/) or a YAML URI", "demo"),
    param("run-pretrain", "run the continued-pretraining phase", "true", enum=BOOL),
    param("run-sft", "run the instruction-tuning phase", "true", enum=BOOL),
    param("run-dpo", "run the preference-alignment phase", "true", enum=BOOL),
    param("run-deploy", "deploy the model when the gate promotes it", "true", enum=BOOL),
    param(
        "eval-tasks",
        "comma-separated lm-eval tasks ('demo': the packaged demo tasks; 'safety': the staged safety suite)",
        "demo",
    ),
    param("eval-limit", "samples per evaluation task ('' for all)", ""),
    param("gate-rules", "promotion rules: a packaged name (demo, safety) or a YAML URI", "demo"),
    param("deploy-target", "cluster (vLLM) or local (fmops serve)", "cluster", enum=["cluster", "local"]),
    param(
        "serving-engine",
        "the local deploy's engine: transformers, vllm (its own environment, created on first use) or auto",
        "transformers",
        enum=["transformers", "vllm", "auto"],
    ),
    *scaling_params(),
]

W = "{{workflow.parameters.%s}}"
PLAN = "{{tasks.plan.outputs.parameters.%s}}"
SCALING = {name: W % name for name in SCALING_INPUTS}
DATA = W % "data-root"
RUN_ROOT = f"{W % 'storage-root'}/runs/{{{{workflow.name}}}}"
PRETRAIN_DATA = "workflow.parameters['data-root'] + '/pretrain.jsonl'"
# Where each phase reads its model and writes its output, decided by `plan` from the phases that run.
PLAN_OUTPUTS = (
    "pretrain-model",
    "pretrain-output",
    "sft-model",
    "sft-output",
    "dpo-model",
    "dpo-output",
    "final-model",
    "pretrain-eval-output",
    "sft-eval-output",
    "final-eval-output",
    "pretrain-eval-baseline",
    "sft-eval-baseline",
    "final-eval-baseline",
)


def phase(name: str, template: str) -> TemplateRef:
    return TemplateRef(name=f"fmops-{template}", template=name)


def evaluation(name: str, prefix: str) -> Task:
    """Evaluate the model a phase made, against the evaluation of the phase before it."""
    return Task(
        name=name,
        template_ref=phase("evaluate", "evaluate"),
        arguments={
            "model": PLAN % f"{prefix}-output" if prefix != "final" else PLAN % "final-model",
            "tasks": W % "eval-tasks",
            "task-data": f"{DATA}/eval",
            "baseline": PLAN % f"{prefix}-eval-baseline",
            "output": PLAN % f"{prefix}-eval-output",
            "limit": W % "eval-limit",
        },
    )


def training(name: str, arguments: dict[str, str]) -> Task:
    """A training phase (fmops-<name>), run unless `run-<name>` is false."""
    return Task(
        name=name,
        template_ref=phase(name, name),
        when=f"{W % f'run-{name}'} == true",
        arguments={
            "model": PLAN % f"{name}-model",
            "output": PLAN % f"{name}-output",
            "recipe": W % f"{name}-recipe",
            **arguments,
            **SCALING,
        },
    )


with WorkflowTemplate(
    name="fmops-pipeline",
    entrypoint="pipeline",
    on_exit="record-status",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: pipeline",
        "Pretrain, finetune (SFT, DPO), evaluate every phase, gate against production, deploy.",
        deadline=7 * DAY,
    ),
) as workflow:
    write_demo_data = common.cpu_container("demo-data", ["demo", "--output", DATA])
    plan_run = common.cpu_container(
        "plan",
        common.command_line(
            "plan",
            {
                "--run-root": RUN_ROOT,
                "--base-model": W % "base-model",
                "--run-pretrain": W % "run-pretrain",
                "--run-sft": W % "run-sft",
                "--run-dpo": W % "run-dpo",
                "--results-dir": RESULTS_DIR,
            },
        ),
        outputs=[common.result(name, name) for name in PLAN_OUTPUTS],
    )
    record_status = common.cpu_container(
        "record-status",
        common.command_line(
            "notify",
            {
                "--workflow": "{{workflow.name}}",
                "--status": "{{workflow.status}}",
                "--failures": "{{workflow.failures}}",
                "--record": f"{RUN_ROOT}/status.json",
            },
        ),
        env=[common.WEBHOOK_ENV],
    )

    with DAG(name="pipeline"):
        demo_data = write_demo_data(when=f"{W % 'write-demo-data'} == true")
        plan = plan_run()
        curate = Task(
            name="curate",
            template_ref=phase("curate", "curate"),
            when=f"{W % 'curate'} == true && {W % 'run-pretrain'} == true",
            arguments={
                "data": f"{DATA}/pretrain.jsonl",
                "output": f"{RUN_ROOT}/curated",
                "config": W % "curate-recipe",
                "decontaminate": f"{DATA}/eval",
            },
        )
        tokenize = Task(
            name="tokenize",
            template_ref=phase("tokenize", "tokenize"),
            when=f"{W % 'tokenize'} == true && {W % 'run-pretrain'} == true",
            arguments={
                "model": PLAN % "pretrain-model",
                "data": common.expression(common.curated_or_raw(PRETRAIN_DATA)),
                "output": f"{RUN_ROOT}/tokens",
            },
        )
        pretrain = training(
            "pretrain",
            {
                "data": common.tokenized_or_raw(common.curated_or_raw(PRETRAIN_DATA)),
                "replay": f"{DATA}/replay.jsonl",
                "replay-ratio": W % "replay-ratio",
            },
        )
        evaluate_pretrain = evaluation("evaluate-pretrain", "pretrain")
        sft = training("sft", {"data": f"{DATA}/sft.jsonl"})
        evaluate_sft = evaluation("evaluate-sft", "sft")
        dpo = training("dpo", {"data": f"{DATA}/dpo.jsonl"})
        evaluate_final = evaluation("evaluate-final", "final")
        gate = Task(
            name="gate",
            template_ref=phase("gate", "evaluate"),
            arguments={
                "candidate": PLAN % "final-eval-output",
                "baseline": f"{W % 'storage-root'}/models/{W % 'model-name'}/production",
                "parent": PLAN % "final-eval-baseline",
                "rules": W % "gate-rules",
            },
        )
        deploy = Task(
            name="deploy",
            template_ref=phase("deploy", "deploy"),
            when=f"{{{{tasks.gate.outputs.parameters.promote}}}} == true && {W % 'run-deploy'} == true",
            arguments={
                "model": PLAN % "final-model",
                "name": W % "model-name",
                "target": W % "deploy-target",
                "serving-engine": W % "serving-engine",
                "registry": W % "storage-root",
                "evaluation": PLAN % "final-eval-output",
            },
        )

        # A phase skipped by its parameter does not stop the phases after it.
        ready = [plan, succeeded_or_skipped(demo_data)]
        ready >> curate
        [*ready, succeeded_or_skipped(curate)] >> tokenize
        [*ready, succeeded_or_skipped(curate), succeeded_or_skipped(tokenize)] >> pretrain
        [*ready, succeeded_or_skipped(pretrain)] >> sft
        [*ready, succeeded_or_skipped(pretrain), succeeded_or_skipped(sft)] >> dpo
        # The final evaluation (and the gate after it) reads the evaluation of the phase before it: wait for it.
        [
            succeeded_or_skipped(dpo),
            succeeded_or_skipped(sft),
            succeeded_or_skipped(pretrain),
            succeeded_or_not_run(evaluate_sft),
            succeeded_or_not_run(evaluate_pretrain),
        ] >> evaluate_final
        pretrain.on_success(evaluate_pretrain)
        sft.on_success(evaluate_sft)
        evaluate_final >> gate >> deploy
