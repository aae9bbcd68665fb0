"""WorkflowTemplate `fmops-pretrain`: continue pretraining a causal LM on new data, with replay.

    argo submit -n fmops --from workflowtemplate/fmops-pretrain \
        -p model=s3://bucket/fmops/models/base/latest -p data=s3://bucket/data/new/ -p output=s3://bucket/out

`train` on one node, or `train-distributed` (a TrainJob; `train-pytorchjob` with job-kind=pytorchjob) on
several; then `collect` (see training.py).
"""

from hera.workflows import DAG, WorkflowTemplate

from fmops.argo.templates import common, training, trainjob
from fmops.argo.templates.common import DAY, param

PARAMS = [
    param("model", "starting model: hub id, model directory URI, registry pointer (.../latest), or 'tiny'", "tiny"),
    param("data", "training data: one or more URIs (comma-separated) of JSONL {text}, .txt or parquet"),
    param("replay", "replay data from earlier corpora, mixed in against forgetting ('' for none)", ""),
    param("replay-ratio", "fraction of training sequences drawn from the replay data ('' for the recipe's)", ""),
    param("output", "URI of the output directory (model, checkpoints/, metrics.json, manifest.json)"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
]
ARGS = common.command_line(
    "pretrain",
    {
        "--model": "{{inputs.parameters.model}}",
        "--data": "{{inputs.parameters.data}}",
        "--replay": "{{inputs.parameters.replay}}",
        "--replay-ratio": "{{inputs.parameters.replay-ratio}}",
        "--output": "{{inputs.parameters.output}}",
        "--config": "{{inputs.parameters.recipe}}",
    },
)
DEADLINE = 3 * DAY
INPUTS = training.entry_inputs(PARAMS)

with WorkflowTemplate(
    name="fmops-pretrain",
    entrypoint="pretrain",
    arguments=[common.argument(p) for p in INPUTS],
    **common.workflow_options(
        "fmops: continuous pretraining",
        "Continue pretraining a base model on new data with replay; resumable checkpoints.",
        deadline=DEADLINE,
    ),
) as workflow:
    train_pod = training.train_container(PARAMS, ARGS, DEADLINE)
    several_nodes = trainjob.MultiNode("pretrain", PARAMS, ARGS, DEADLINE)
    check_output = training.collect_container([("loss-curve", "loss.png")])

    with DAG(name="pretrain", inputs=INPUTS, outputs=[common.from_task("metrics", "collect", "metrics")]):
        passed = training.passed_inputs(PARAMS)
        train = train_pod(arguments=passed, when=training.ONE_NODE)
        distributed = several_nodes.tasks(passed)
        collect = check_output(arguments=common.inputs("output"))
        [common.one_succeeded(train, *distributed)] >> collect
