"""Argo Workflows: one model of its YAML (documents), the Hera definitions (templates/), render, validate, and
the local executor (local/)."""
