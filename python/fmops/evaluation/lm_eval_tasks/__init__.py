"""The project's lm-eval task YAMLs (a package so that utils.py, their process_docs, is installed)."""
