"""Evaluation on lm-evaluation-harness: task catalog, task data checks, harness wiring, endpoint checks,
baselines, the report and chart, and the promotion gate's rules. One module per idea."""
