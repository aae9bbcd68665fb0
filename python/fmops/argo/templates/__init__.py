"""Hera definitions: one module per Argo resource, each holding a module-level `workflow`.

`fmops render` writes `workflows/<name>.yaml` for each; never edit those files by hand.
"""

# module name -> rendered file stem; the order is the order of workflows/kustomization.yaml
MODULES = (
    "curate",
    "tokenize",
    "pretrain",
    "sft",
    "dpo",
    "evaluate",
    "deploy",
    "pipeline",
    "continuous_pretrain",
    "monitor",
    "validate_cluster",
)
