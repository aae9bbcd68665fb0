"""WorkflowTemplate `fmops-sft`: instruction tuning with TRL's SFTTrainer.

    argo submit -n fmops --from workflowtemplate/fmops-sft \
        -p model=s3://bucket/runs/r1/pretrain -p data=s3://bucket/data/sft.jsonl -p output=s3://bucket/runs/r1/sft
"""

from fmops.argo.templates.common import param
from fmops.argo.templates.training import training_phase

PARAMS = [
    param("model", "model to tune: a complete fmops output, model directory URI or hub id"),
    param("data", "conversations ({messages}) or prompt/completion JSONL; comma-separated URIs"),
    param("output", "URI of the output directory"),
    param("recipe", "a packaged recipe name (e.g. demo) or a YAML config URI ('' for the defaults)", ""),
    param("lora", "train LoRA adapters instead of all weights (merged on save)", "false", enum=["true", "false"]),
]

ARGS = [
    "sft",
    "--model", "{{inputs.parameters.model}}",
    "--data", "{{inputs.parameters.data}}",
    "--output", "{{inputs.parameters.output}}",
    "--config", "{{inputs.parameters.recipe}}",
    "--set", "lora={{inputs.parameters.lora}}",
]  # fmt: skip

workflow = training_phase(
    "sft",
    title="fmops: supervised finetuning",
    description="Instruction-tune a model on chat data (TRL SFTTrainer); loss on assistant tokens only.",
    stage_params=PARAMS,
    stage_args=ARGS,
    artifacts=[("loss-curve", "loss.png")],
)
