"""Argo's little languages, as far as a workflow on one machine needs them.

- `{{...}}` simple tags: looked up in a flat dict of variables (inputs.parameters.x, workflow.name, item, ...);
- `{{=...}}` expression tags: the expr language Argo evaluates them with (github.com/expr-lang/expr): literals,
  arrays and maps, member and index access, arithmetic, comparisons, `and`/`or`/`not`, `in`, `matches`,
  `contains`, `startsWith`, `endsWith`, `?:` and `??`, closures over `#` (map, filter, all, any, ...) and
  Argo's functions asInt, asFloat, string, toJson, jsonpath and the sprig.* helpers the examples use;
- `when`: govaluate over the already-substituted text (`heads == heads`, `2 > 1`, `'a' != 'b' && !(x == y)`):
  a bare word is a string, and two sides that both read as numbers compare as numbers;
- `depends`: enhanced depends logic over task results (`A && (B.Succeeded || C.Failed)`);
- retryStrategy.expression: expr over lastRetry.status / exitCode / duration.
Both Go evaluators have no Python port, and Python's own eval would accept far more than they do, so this is a
small Pratt parser over a strict tokeniser that evaluates only these forms.

Modules: syntax (tokens, tree, parser), functions (values and the function tables), evaluator, tags
(`{{...}}` substitution) and conditions (when, depends, retry expressions). This package's names are what
the executor uses.
"""

from fmops.argo.local.expressions.conditions import condition, depends, depends_on, handled_results, retry_allowed
from fmops.argo.local.expressions.evaluator import Unresolved, evaluate, variable_paths
from fmops.argo.local.expressions.functions import render
from fmops.argo.local.expressions.tags import arguments, expression_tags, substitute

__all__ = [
    "Unresolved",
    "arguments",
    "condition",
    "depends",
    "depends_on",
    "handled_results",
    "evaluate",
    "expression_tags",
    "render",
    "retry_allowed",
    "substitute",
    "variable_paths",
]
