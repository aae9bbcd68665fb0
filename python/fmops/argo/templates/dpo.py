"""WorkflowTemplate `fmops-dpo`: preference alignment with TRL's DPOTrainer.

    argo submit -n fmops --from workflowtemplate/fmops-dpo \
        -p model=s3://bucket/runs/r1/sft -p data=s3://bucket/data/dpo.jsonl -p output=s3://bucket/runs/r1/dpo

`train` on one node, or `train-distributed` (a TrainJob; `train-pytorchjob` with job-kind=pytorchjob) on
several; then `collect` (see training.py).
"""

from hera.workflows import DAG, WorkflowTemplate

from fmops.argo.templates import common, training, trainjob
from fmops.argo.templates.common import DAY, param

PARAMS = [
    param("model", "model to align (usually the SFT output); also the frozen reference model"),
    param("data", "preference JSONL {prompt, chosen, rejected}; comma-separated URIs"),
    param("output", "URI of the output directory"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
    param("beta", "DPO temperature: how far the policy may move from the reference ('' for the recipe's)", ""),
    param("loss", "preference loss ('' for the recipe's)", "", enum=["", "sigmoid", "ipo", "hinge", "robust"]),
    param("lora", "train LoRA adapters instead of all weights (merged on save)", "false", enum=["true", "false"]),
]
ARGS = common.command_line(
    "dpo",
    {
        "--model": "{{inputs.parameters.model}}",
        "--data": "{{inputs.parameters.data}}",
        "--output": "{{inputs.parameters.output}}",
        "--config": "{{inputs.parameters.recipe}}",
        "--beta": "{{inputs.parameters.beta}}",
        "--loss": "{{inputs.parameters.loss}}",
        "--set": "lora={{inputs.parameters.lora}}",
    },
)
DEADLINE = 3 * DAY
INPUTS = training.entry_inputs(PARAMS)

with WorkflowTemplate(
    name="fmops-dpo",
    entrypoint="dpo",
    arguments=[common.argument(p) for p in INPUTS],
    **common.workflow_options(
        "fmops: preference alignment (DPO)",
        "Align a model with preference pairs (TRL DPOTrainer) against a frozen reference.",
        deadline=DEADLINE,
    ),
) as workflow:
    train_pod = training.train_container(PARAMS, ARGS, DEADLINE)
    several_nodes = trainjob.MultiNode("dpo", PARAMS, ARGS, DEADLINE)
    check_output = training.collect_container([("loss-curve", "loss.png")])

    with DAG(name="dpo", inputs=INPUTS, outputs=[common.from_task("metrics", "collect", "metrics")]):
        passed = training.passed_inputs(PARAMS)
        train = train_pod(arguments=passed, when=training.ONE_NODE)
        distributed = several_nodes.tasks(passed)
        collect = check_output(arguments=common.inputs("output"))
        [common.one_succeeded(train, *distributed)] >> collect
