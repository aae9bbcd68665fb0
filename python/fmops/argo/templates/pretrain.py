"""WorkflowTemplate `fmops-pretrain`: continue pretraining a causal LM on new data, with replay.

    argo submit -n fmops --from workflowtemplate/fmops-pretrain \
        -p model=s3://bucket/fmops/models/base/latest -p data=s3://bucket/data/new/ -p output=s3://bucket/out
"""

from fmops.argo.templates.common import param
from fmops.argo.templates.training import training_phase

PARAMS = [
    param("model", "starting model: hub id, model directory URI, registry pointer (.../latest), or 'tiny'", "tiny"),
    param("data", "training data: one or more URIs (comma-separated) of JSONL {text}, .txt or parquet"),
    param("replay", "replay data from earlier corpora, mixed in against forgetting ('' for none)", ""),
    param("replay-ratio", "fraction of training sequences drawn from the replay data ('' for the recipe's)", ""),
    param("output", "URI of the output directory (model, checkpoints/, metrics.json, manifest.json)"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
]

ARGS = [
    "pretrain",
    "--model", "{{inputs.parameters.model}}",
    "--data", "{{inputs.parameters.data}}",
    "--replay", "{{inputs.parameters.replay}}",
    "--replay-ratio", "{{inputs.parameters.replay-ratio}}",
    "--output", "{{inputs.parameters.output}}",
    "--config", "{{inputs.parameters.recipe}}",
]  # fmt: skip

workflow = training_phase(
    "pretrain",
    title="fmops: continuous pretraining",
    description="Continue pretraining a base model on new data with replay; resumable checkpoints.",
    stage_params=PARAMS,
    stage_args=ARGS,
    artifacts=[("loss-curve", "loss.png")],
)
