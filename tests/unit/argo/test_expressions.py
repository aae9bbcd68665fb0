"""Argo's little languages, with the examples of Argo's own documentation (variables, conditionals,
enhanced depends, retries) and of its example workflows."""

import pytest
from fmops.argo.local import expressions
from fmops.core.errors import InputError

WEATHER = '{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}'
CONFIG = '{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, {"name": "Jai", "age" :44}]}'
VARIABLES = {
    "inputs.parameters.should-print": "true",
    "inputs.parameters.foo": "3",
    "workflow.parameters.weather": WEATHER,
    "workflow.parameters.config": CONFIG,
    "workflow.creationTimestamp": "2026-08-21T00:00:00Z",
    "item": {"os": "debian", "version": 9},
}


@pytest.mark.parametrize(
    "tag, value",
    [
        ("{{=asInt(inputs.parameters.foo) * 10}}", "30"),
        ("{{=asFloat(inputs.parameters.foo) / 2}}", "1.5"),
        ("{{= inputs.parameters[\"should-print\"] == 'true'}}", "true"),
        ("{{=toJson(filter([1, 3], {# > 1}))}}", "[3]"),
        ("{{=map([1, 2], {# * 2})}}", "[2,4]"),
        ("{{=jsonpath(workflow.parameters.config, '$.employees[?(@.name==\"Baris\")].age')}}", "[43]"),
        ("{{=jsonpath(workflow.parameters.config, '$.employees[*].name')}}", '["Baris","Mo","Jai"]'),
        ("{{=jsonpath(workflow.parameters.config, '$.employees[0].age')}}", "43"),
        (
            "{{=sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather'))}}",
            '{"temps": [34, 27, 15, 57, 46]}\n',
        ),
        ("{{=sprig.date('2006', workflow.creationTimestamp) > '2000'}}", "true"),
        ("{{=toJson({avg: sprig.add(1, 2, 3) / 3, max: sprig.max(1, 5)})}}", '{"avg":2,"max":5}'),
        ("{{=item.os + ':' + string(item.version)}}", "debian:9"),
        ("{{=inputs.parameters.foo == '3' ? 'three' : 'other'}}", "three"),
        ("{{=nope ?? 'fallback'}}", "fallback"),
        ("{{='abc' contains 'b' and not ('x' in ['y'])}}", "true"),
        ("a {{inputs.parameters.foo}} b {{=1..3}}", "a 3 b [1,2,3]"),
    ],
)
def test_expression_tags(tag, value):
    assert expressions.substitute(tag, VARIABLES) == value


@pytest.mark.parametrize(
    "condition, truth",
    [
        ("true", True),
        ("false", False),
        ("heads == heads", True),
        ("tails == heads", False),
        ("5 > 3", True),
        ("10 < 9", False),
        ("5 >= 5.0", True),
        ("'a' != 'b' && !(x == y)", True),
        ("hello =~ 'h.*'", True),
        ("tails =~ '^h'", False),
        ("Succeeded == Failed || 1 == 1", True),
        ("0.5 < 1", True),
        ("true == true", True),
    ],
)
def test_when_reads_the_substituted_text_as_govaluate_does(condition, truth):
    assert expressions.condition(condition) is truth


def test_when_that_is_not_a_boolean_is_an_error():
    with pytest.raises(InputError, match="is not a boolean"):
        expressions.condition("'maybe'")


@pytest.mark.parametrize(
    "depends, results, truth",
    [
        ("A && (B.Succeeded || C.Failed)", {"A": "Succeeded", "B": "Failed", "C": "Failed"}, True),
        ("A && B", {"A": "Succeeded", "B": "Skipped"}, True),
        ("A.Failed", {"A": "Succeeded"}, False),
        ("task-1.Errored || task-2", {"task-1": "Error", "task-2": "Failed"}, True),
        ("!A.Succeeded", {"A": "Omitted"}, True),
    ],
)
def test_enhanced_depends(depends, results, truth):
    assert expressions.depends(depends, results) is truth


def test_depends_on_loops_and_continue_on():
    assert expressions.depends("L.AnySucceeded", {"L": "Failed"}, {"L": ["Failed", "Succeeded"]}) is True
    assert expressions.depends("L.AllFailed", {"L": "Failed"}, {"L": ["Failed", "Succeeded"]}) is False
    assert expressions.depends("A", {"A": "Failed"}, continued={"A"}) is True
    with pytest.raises(InputError, match="no task named 'B'"):
        expressions.depends("A && B", {"A": "Succeeded"})


def test_retry_expressions_see_exit_code_as_a_string():
    assert expressions.retry_allowed("asInt(lastRetry.exitCode) > 1", "Failed", 2) is True
    assert expressions.retry_allowed("lastRetry.status == 'Error'", "Failed", 1) is False
    assert expressions.retry_allowed("lastRetry.exitCode == '1'", "Failed", 1) is True


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{=1 +}}", "cannot parse expression '1 +'"),
        ("{{=asInt('x')}}", "asInt: 'x' is not an integer"),
        ("{{=missing.value}}", "no such variable 'missing'"),
        ("{{=1 == 1 ? 2}}", "expected ':'"),
    ],
)
def test_bad_expressions_are_one_line_input_errors(text, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("+", r"\+").replace("?", r"\?")):
        expressions.substitute(text, VARIABLES)


def test_unknown_simple_tags_are_errors_or_kept():
    with pytest.raises(InputError, match=r"'\{\{steps.x.outputs.result\}\}': no such variable here"):
        expressions.substitute("{{steps.x.outputs.result}}", {})
    assert expressions.substitute("{{item}} {{=item}}", {}, strict=False) == "{{item}} {{=item}}"
