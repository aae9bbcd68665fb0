"""WorkflowTemplate `fmops-dpo`: preference alignment with TRL's DPOTrainer.

    argo submit -n fmops --from workflowtemplate/fmops-dpo \
        -p model=s3://bucket/runs/r1/sft -p data=s3://bucket/data/dpo.jsonl -p output=s3://bucket/runs/r1/dpo
"""

from fmops.argo.templates.common import param
from fmops.argo.templates.training import training_phase

PARAMS = [
    param("model", "model to align (usually the SFT output); also the frozen reference model"),
    param("data", "preference JSONL {prompt, chosen, rejected}; comma-separated URIs"),
    param("output", "URI of the output directory"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
    param("beta", "DPO temperature: how far the policy may move from the reference ('' for the recipe's)", ""),
    param("loss", "preference loss ('' for the recipe's)", "", enum=["", "sigmoid", "ipo", "hinge", "robust"]),
    param("lora", "train LoRA adapters instead of all weights (merged on save)", "false", enum=["true", "false"]),
]

ARGS = [
    "dpo",
    "--model", "{{inputs.parameters.model}}",
    "--data", "{{inputs.parameters.data}}",
    "--output", "{{inputs.parameters.output}}",
    "--config", "{{inputs.parameters.recipe}}",
    "--beta", "{{inputs.parameters.beta}}",
    "--loss", "{{inputs.parameters.loss}}",
    "--set", "lora={{inputs.parameters.lora}}",
]  # fmt: skip

workflow = training_phase(
    "dpo",
    title="fmops: preference alignment (DPO)",
    description="Align a model with preference pairs (TRL DPOTrainer) against a frozen reference.",
    stage_params=PARAMS,
    stage_args=ARGS,
    artifacts=[("loss-curve", "loss.png")],
)
