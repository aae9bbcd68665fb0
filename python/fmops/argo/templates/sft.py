"""WorkflowTemplate `fmops-sft`: instruction tuning with TRL's SFTTrainer.

    argo submit -n fmops --from workflowtemplate/fmops-sft \
        -p model=s3://bucket/runs/r1/pretrain -p data=s3://bucket/data/sft.jsonl -p output=s3://bucket/runs/r1/sft

`train` on one node, or `train-distributed` (a TrainJob; `train-pytorchjob` with job-kind=pytorchjob) on
several; then `collect` (see training.py).
"""

from hera.workflows import DAG, WorkflowTemplate

from fmops.argo.templates import common, training, trainjob
from fmops.argo.templates.common import DAY, param

PARAMS = [
    param("model", "model to tune: a complete fmops output, model directory URI or hub id"),
    param("data", "conversations ({messages}) or prompt/completion JSONL; comma-separated URIs"),
    param("output", "URI of the output directory"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
    param("lora", "train LoRA adapters instead of all weights (merged on save)", "false", enum=["true", "false"]),
]
ARGS = common.command_line(
    "sft",
    {
        "--model": "{{inputs.parameters.model}}",
        "--data": "{{inputs.parameters.data}}",
        "--output": "{{inputs.parameters.output}}",
        "--config": "{{inputs.parameters.recipe}}",
        "--set": "lora={{inputs.parameters.lora}}",
    },
)
DEADLINE = 3 * DAY
INPUTS = training.entry_inputs(PARAMS)

with WorkflowTemplate(
    name="fmops-sft",
    entrypoint="sft",
    arguments=[common.argument(p) for p in INPUTS],
    **common.workflow_options(
        "fmops: supervised finetuning",
        "Instruction-tune a model on chat data (TRL SFTTrainer); loss on assistant tokens only.",
        deadline=DEADLINE,
    ),
) as workflow:
    train_pod = training.train_container(PARAMS, ARGS, DEADLINE)
    several_nodes = trainjob.MultiNode("sft", PARAMS, ARGS, DEADLINE)
    check_output = training.collect_container([("loss-curve", "loss.png")])

    with DAG(name="sft", inputs=INPUTS, outputs=[common.from_task("metrics", "collect", "metrics")]):
        passed = training.passed_inputs(PARAMS)
        train = train_pod(arguments=passed, when=training.ONE_NODE)
        distributed = several_nodes.tasks(passed)
        collect = check_output(arguments=common.inputs("output"))
        [common.one_succeeded(train, *distributed)] >> collect
