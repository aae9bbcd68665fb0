"""The stage commands the WorkflowTemplates run: pretrain, sft, dpo, evaluate, gate, deploy, serve."""
