"""The only code of the project's tasks: small `process_docs` functions lm-eval calls through `!function`."""

from __future__ import annotations


def preference_docs(dataset):
    """Give each preference pair a `choices` list, [chosen, rejected], so the YAML names a field instead of
    rendering a Jinja template per document (lm-eval compiles a template at every call)."""
    return dataset.map(lambda doc: {"choices": [doc["chosen"], doc["rejected"]]})
