"""Finetuning pieces shared by `fmops sft` and `fmops dpo`: one module per idea.

chat_data (validate messages / prompt-completion / preference records before heavy imports), config (shared
fields), models (model + tokenizer + the chat template), lora (adapter config, merge on save), trainer (TRL
wiring: arguments, resume, save), checkpoints (complete-only publication), metrics, outputs (metrics.json,
results dir, manifest last).
"""
