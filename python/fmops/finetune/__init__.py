"""Finetuning pieces shared by `fmops sft` and `fmops dpo`: one module per idea.

chat_data (validate messages / prompt-completion / preference records before heavy imports; the stage inputs),
config (SFT and DPO configs in TRL's field names), lora (adapter config, merge on save), trainer (the one run
body: TRL's config and trainer, resume, save), checkpoints (the Trainer's checkpoints published through
fmops.training.checkpoint_store), metrics, outputs (metrics.json, results dir, manifest last).
"""
