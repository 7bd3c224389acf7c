"""Conditions: what Argo users write works, and nothing outside the whitelist is ever run."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.delivery.analysis.expressions import (
    EvaluationError,
    InvalidExpression,
    compile_expression,
)
from clearance.errors import ConfigError


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result < 0.05", 0.01, True),
        ("result < 0.05", 0.05, False),
        ("result[0] >= 0.95", [0.97, 0.2], True),
        ("result[0] >= 0.95", 0.97, True),  # a number acts as a list of one
        ("result[-1] == 0.2", [0.97, 0.2], True),
        ("len(result) == 3 and all(result < 1)", [0.1, 0.5, 0.9], True),
        ("any(result > 0.8)", [0.1, 0.9], True),
        ("not (result > 1)", 0.5, True),
        ("result > 1 || result < 0", 0.5, False),
        ("result >= 0 && !(result > 1) && result != 2", 0.5, True),
        ("0 <= result <= 1", 1.0, True),
        ("avg(result) < 200 and max(result) < 500", [100.0, 250.0], True),
        ("min(result) > 0 and sum(result) == 6", [1.0, 2.0, 3.0], True),
        ("min(result, 3) == 2", 2.0, True),
        ("abs(result) < 1", -0.5, True),
        ("result * 100 - 1 < 5 % 3 + 2 ** 2 / 2", 0.02, True),
        ("isNaN(result)", math.nan, True),
        ("default(result, 0) < 0.1", None, True),
        ("default(result, 0) < 0.1", math.nan, True),
        ("all(default(result, 0) < 0.1)", [math.nan, 0.05], True),
        ("result in [200, 204]", 204.0, True),
        ("result not in (500, 503)", 503.0, False),
        ("result == true", 1.0, False),
        ("result > -inf and not isNaN(nan) == false", 1.0, True),
    ],
)
def test_conditions_argo_users_write(
    condition: str, result: float | list[float] | None, expected: bool
) -> None:
    assert compile_expression(condition).test(result) is expected


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ('__import__("os")', "function '__import__' is not allowed"),
        ('__import__("os").system("true")', "not allowed: attribute access ('.')"),
        ("result.__class__", "not allowed: attribute access ('.')"),
        ("(lambda: 1)()", "only the listed functions can be called"),
        ("lambda: 1", "not allowed: lambda"),
        ("[x for x in result]", "not allowed: comprehensions"),
        ("all(x < 1 for x in result)", "not allowed: comprehensions"),
        ("2 ** 1000000", "exponent 1e+06 is too large (at most 100)"),
        ("result ** -101", "exponent -101 is too large"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("eval('1')", "function 'eval' is not allowed"),
        ("result == 'up'", "text literals are not allowed"),
        ("result[1:2]", "not allowed: slices"),
        ("x := 1", "not a valid expression"),
        ("(x := 1)", "not allowed: assignment (':=')"),
        ("foo > 1", "unknown name 'foo'"),
        ("len > 1", "'len' is a function: call it"),
        ("len(result, 2)", "len(...) takes 1 argument, not 2"),
        ("default(result)", "default(...) takes 2 arguments, not 1"),
        ("max(key=1)", "keyword arguments are not allowed"),
        ("result if result else 0", "not allowed: 'if ... else'"),
        ("{1: 2}", "not allowed: dictionaries"),
        ("result // 2", "not allowed: '//'"),
        ("result is None", "not allowed: 'is'"),
        ("None", "the constant None is not allowed"),
        ("result < 1" + "0" * 400, "a number is too large"),
        ("", "it is empty"),
        ("result <", "not a valid expression"),
        ("(" * 300 + "1" + ")" * 300, "not a valid expression (too many nested parentheses)"),
        ("-" * 900 + "result", "too complex"),
        ("result + " * 200 + "1", "longer than 1000 characters"),
        ("1" + "+1" * 200, "too complex"),
    ],
)
def test_anything_outside_the_whitelist_is_a_config_error_naming_it(condition: str, named: str) -> None:
    with pytest.raises(InvalidExpression) as caught:
        compile_expression(condition)

    assert named in caught.value.message
    assert isinstance(caught.value, ConfigError)  # shown as a config problem (exit 2)
    assert isinstance(caught.value, ValueError)  # and reported by pydantic at its key


@pytest.mark.parametrize(
    ("condition", "result", "why"),
    [
        ("result < 0.05", [0.01, 0.02], "gives a list, not true or false: wrap it in all(...) or any(...)"),
        ("result + 1", 1.0, "gives the number 2, not true or false"),
        ("result < 1", None, "result has no value: use default(result, x)"),
        ("result[3] > 0", [1.0], "index 3 is out of range: result has 1 values"),
        ("result[0.5] > 0", [1.0], "index 0.5 is not a whole number"),
        ("result / 0 > 1", 1.0, "division by zero"),
        ("result ** 90 > 1", 1e10, "1e+10 ** 90 is too large"),
        ("result ** 0.5 > 1", -4.0, "is not a real number"),
        ("all(result < 1)", [], "all() of no values: there is nothing to judge"),
        ("avg(result) < 1", [], "avg() of no values"),
        ("result + true > 1", 1.0, "true/false cannot be used as a number"),
        ("result and true", 1.0, "'and' needs true or false, not the number 1"),
        ("[1, 2] == [1]", 1.0, "lists of different lengths (2 and 1)"),
    ],
)
def test_a_condition_that_cannot_be_evaluated_raises_evaluation_error(
    condition: str, result: float | list[float] | None, why: str
) -> None:
    expression = compile_expression(condition)

    with pytest.raises(EvaluationError) as caught:
        expression.test(result)

    assert why in str(caught.value)


@given(st.text(alphabet="result0123456789.+-*/%<>=!&|()[], aon", max_size=40), st.floats() | st.none())
def test_no_input_escapes_the_two_kinds_of_error(source: str, result: float | None) -> None:
    try:
        expression = compile_expression(source)
    except InvalidExpression:
        return
    with contextlib.suppress(EvaluationError):
        expression.test(result)
