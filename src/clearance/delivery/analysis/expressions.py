"""The condition language of analysis metrics: `result < 0.05`, `result[0] >= 0.95`, `avg(result) < 200`.

Conditions come from clearance.yaml, so they are never given to `eval`. `compile_expression` parses
them with Python's `ast` and accepts only the node types listed here; anything else (attribute
access, lambdas, comprehensions, unknown names or functions, text literals, huge constant
exponents) is an `InvalidExpression` naming the construct, at config load. `Expression.evaluate`
then walks the tree itself, on floats only, so no user text ever reaches Python's evaluator.

Values: `result` is a number, a list of numbers, or null (no value). A number acts as a list of one,
so `result[0]`, `len(result)` and `all(result < 1)` work on both. Comparisons and arithmetic between
a list and a number apply to each element. Argo's `&&`, `||` and `!` are accepted as `and`, `or`, `not`.
Functions: len, all, any, min, max, sum, avg, abs, isNaN, default(result, x).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from clearance.errors import ConfigError

Value = float | bool | list["Value"] | None

MAX_LENGTH = 1000
MAX_NODES = 300
MAX_EXPONENT = 100.0  # 10**100 is plenty for any metric; 2**(10**9) would hang or overflow

FUNCTIONS = ("len", "all", "any", "min", "max", "sum", "avg", "abs", "isNaN", "default")
NAMES: dict[str, Value] = {"true": True, "false": False, "nan": math.nan, "inf": math.inf}


class InvalidExpression(ConfigError, ValueError):
    """A condition that cannot be used; a ValueError too, so pydantic reports it with its location."""

    def __init__(self, source: str, why: str) -> None:
        super().__init__([f"invalid condition '{source}': {why}"])
        self.source = source
        self.why = why


class EvaluationError(ValueError):
    """A valid condition that cannot be evaluated on this result (the measurement is an error)."""


# Every other node type is refused; these are all a condition needs.
_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.List, ast.Tuple, ast.Subscript, ast.Call,
    ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
)  # fmt: skip

_DESCRIPTIONS: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access ('.')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Slice: "slices",
    ast.Starred: "'*' unpacking",
    ast.NamedExpr: "assignment (':=')",
    ast.IfExp: "'if ... else'",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.JoinedStr: "text literals",
    ast.FloorDiv: "'//'",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.BitXor: "'^'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.Invert: "'~'",
    ast.MatMult: "'@'",
    ast.Is: "'is'",
    ast.IsNot: "'is not'",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
}

# Argo Rollouts writes conditions in expr syntax; these three are the only spellings that differ.
_ARGO_SPELLINGS = (
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
)


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked condition; evaluate it as often as needed."""

    source: str
    _tree: ast.Expression

    def evaluate(self, result: float | list[float] | None) -> Value:
        return _Evaluator(result).visit(self._tree.body)

    def test(self, result: float | list[float] | None) -> bool:
        """The condition's answer; EvaluationError when it does not give true or false."""
        value = self.evaluate(result)
        if isinstance(value, bool):
            return value
        if isinstance(value, list):
            raise EvaluationError(
                f"'{self.source}' gives a list, not true or false: wrap it in all(...) or any(...)"
            )
        raise EvaluationError(f"'{self.source}' gives {_show(value)}, not true or false")


@lru_cache(maxsize=512)
def compile_expression(source: str) -> Expression:
    """Parse and check `source`; raise InvalidExpression naming the first construct not allowed."""
    text = source.strip()
    if not text:
        raise InvalidExpression(source, "it is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidExpression(source[:40] + "...", f"longer than {MAX_LENGTH} characters")
    for pattern, replacement in _ARGO_SPELLINGS:
        text = pattern.sub(replacement, text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise InvalidExpression(source, f"not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise InvalidExpression(source, "nested too deeply") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise InvalidExpression(source, f"too complex (more than {MAX_NODES} parts)")
    # A function's name is an ast.Name too; only in that place may it name a function.
    callees = {id(node.func) for node in nodes if isinstance(node, ast.Call)}
    for node in nodes:
        if id(node) not in callees:
            _check_node(source, node)
    return Expression(source, tree)


def _check_node(source: str, node: ast.AST) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        what = _DESCRIPTIONS.get(type(node), type(node).__name__)
        raise InvalidExpression(source, f"not allowed: {what}")
    if isinstance(node, ast.Constant):
        _check_constant(source, node.value)
    if isinstance(node, ast.Name) and node.id not in NAMES and node.id != "result":
        if node.id in FUNCTIONS:
            raise InvalidExpression(source, f"'{node.id}' is a function: call it, e.g. {node.id}(result)")
        raise InvalidExpression(source, f"unknown name '{node.id}'; use result, true, false, nan, inf")
    if isinstance(node, ast.Call):
        _check_call(source, node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = _constant_number(node.right)
        if exponent is not None and abs(exponent) > MAX_EXPONENT:
            raise InvalidExpression(source, f"exponent {exponent:g} is too large (at most {MAX_EXPONENT:g})")


def _check_constant(source: str, value: object) -> None:
    if isinstance(value, str | bytes):
        raise InvalidExpression(source, "text literals are not allowed; compare numbers")
    if not isinstance(value, int | float):
        raise InvalidExpression(source, f"the constant {value!r} is not allowed")
    try:
        float(value)
    except OverflowError:  # an integer literal beyond the range of floats
        raise InvalidExpression(source, "a number is too large") from None


def _check_call(source: str, node: ast.Call) -> None:
    if isinstance(node.func, ast.Attribute):
        raise InvalidExpression(source, "not allowed: attribute access ('.')")
    if not isinstance(node.func, ast.Name):
        raise InvalidExpression(source, "only the listed functions can be called: " + ", ".join(FUNCTIONS))
    name = node.func.id
    if name not in FUNCTIONS:
        raise InvalidExpression(
            source, f"function '{name}' is not allowed; functions: " + ", ".join(FUNCTIONS)
        )
    if node.keywords:
        raise InvalidExpression(source, f"keyword arguments are not allowed in {name}(...)")
    if name in ("min", "max"):
        wanted, count = (1, 100), "1 or more arguments"
    elif name == "default":
        wanted, count = (2, 2), "2 arguments"
    else:
        wanted, count = (1, 1), "1 argument"
    if not wanted[0] <= len(node.args) <= wanted[1]:
        raise InvalidExpression(source, f"{name}(...) takes {count}, not {len(node.args)}")


def _constant_number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _constant_number(node.operand)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    return None


_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_ORDER: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class _Evaluator:
    """Walks a checked tree. Every number is a float, so no operation can build a huge integer."""

    def __init__(self, result: float | list[float] | None) -> None:
        self.result: Value = [float(v) for v in result] if isinstance(result, list) else result

    def visit(self, node: ast.expr) -> Value:
        if isinstance(node, ast.Constant):
            constant = node.value
            if isinstance(constant, bool):
                return constant
            if isinstance(constant, int | float):
                return float(constant)
        if isinstance(node, ast.Name):
            return self.result if node.id == "result" else NAMES[node.id]
        if isinstance(node, ast.List | ast.Tuple):
            return [self.visit(element) for element in node.elts]
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return _broadcast(self.visit(node.left), self.visit(node.right), _arithmetic(node.op))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Subscript):
            return _index(self.visit(node.value), self.visit(node.slice))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return _call(node.func.id, [self.visit(arg) for arg in node.args])
        raise EvaluationError(f"cannot evaluate {type(node).__name__}")  # unreachable after checking

    def _bool_op(self, node: ast.BoolOp) -> bool:
        want_all = isinstance(node.op, ast.And)
        for operand in node.values:
            if _truth(self.visit(operand), "and" if want_all else "or") != want_all:
                return not want_all
        return want_all

    def _unary(self, node: ast.UnaryOp) -> Value:
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            if isinstance(value, list):
                return [not _truth(v, "not") for v in value]
            return not _truth(value, "not")
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return _broadcast(value, sign, operator.mul)

    def _compare(self, node: ast.Compare) -> Value:
        left = self.visit(node.left)
        outcome: Value = True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            step = _comparison(op, left, right)
            if outcome is True:
                outcome = step
            elif isinstance(outcome, bool) and isinstance(step, bool):
                outcome = outcome and step
            else:
                raise EvaluationError("chained comparisons cannot mix lists; use and")
            left = right
        return outcome


def _arithmetic(op: ast.operator) -> Callable[[float, float], float]:
    if isinstance(op, ast.Pow):
        return _power
    return _ARITHMETIC[type(op)]


def _power(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise EvaluationError(f"exponent {exponent:g} is too large (at most {MAX_EXPONENT:g})")
    try:
        value = base**exponent
    except OverflowError:
        raise EvaluationError(f"{base:g} ** {exponent:g} is too large") from None
    if not isinstance(value, float):  # a negative base with a fractional exponent is complex
        raise EvaluationError(f"{base:g} ** {exponent:g} is not a real number")
    return value


def _comparison(op: ast.cmpop, left: Value, right: Value) -> Value:
    if isinstance(op, ast.In | ast.NotIn):
        members = right if isinstance(right, list) else [right]
        found = any(_number(left) == _number(m) for m in members)
        return found if isinstance(op, ast.In) else not found
    if isinstance(op, ast.Eq | ast.NotEq):
        want_equal = isinstance(op, ast.Eq)
        # true is not 1 here: a state and a number are never equal.
        return _broadcast(left, right, lambda a, b: _same(a, b) == want_equal, numbers_only=False)
    return _broadcast(left, right, _ORDER[type(op)])


def _same(left: float, right: float) -> bool:
    return isinstance(left, bool) == isinstance(right, bool) and left == right


def _broadcast(
    left: Value, right: Value, fn: Callable[[float, float], Value], *, numbers_only: bool = True
) -> Value:
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            raise EvaluationError(f"lists of different lengths ({len(left)} and {len(right)})")
        return [_broadcast(a, b, fn, numbers_only=numbers_only) for a, b in zip(left, right, strict=True)]
    if isinstance(left, list):
        return [_broadcast(a, right, fn, numbers_only=numbers_only) for a in left]
    if isinstance(right, list):
        return [_broadcast(left, b, fn, numbers_only=numbers_only) for b in right]
    if numbers_only:
        left, right = _number(left), _number(right)
    elif left is None or right is None:
        raise EvaluationError("result has no value: use default(result, x)")
    try:
        return fn(left, right)
    except ZeroDivisionError:
        raise EvaluationError("division by zero") from None


def _number(value: Value) -> float:
    if value is None:
        raise EvaluationError("result has no value: use default(result, x)")
    if isinstance(value, bool):
        raise EvaluationError("true/false cannot be used as a number")
    if isinstance(value, list):
        raise EvaluationError("a list cannot be used as a single number here; use result[0] or avg(result)")
    return value


def _truth(value: Value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        raise EvaluationError(f"'{where}' needs true or false, not a list: use all(...) or any(...)")
    raise EvaluationError(f"'{where}' needs true or false, not {_show(value)}")


def _index(container: Value, index: Value) -> Value:
    items = _as_list(container)
    position = _number(index)
    if not position.is_integer():
        raise EvaluationError(f"index {position:g} is not a whole number")
    try:
        return items[int(position)]
    except IndexError:
        raise EvaluationError(
            f"index {int(position)} is out of range: result has {len(items)} values"
        ) from None


def _as_list(value: Value) -> list[Value]:
    if value is None:
        raise EvaluationError("result has no value: use default(result, x)")
    return value if isinstance(value, list) else [value]


def _call(name: str, args: Sequence[Value]) -> Value:
    if name == "default":
        return _default(args[0], args[1])
    if name == "isNaN":
        return _map(args[0], math.isnan)
    if name == "abs":
        return _map(args[0], abs)
    if name == "len":
        return float(len(_as_list(args[0])))
    items = _as_list(args[0]) if len(args) == 1 else list(args)
    if name in ("all", "any"):
        if not items:
            raise EvaluationError(f"{name}() of no values: there is nothing to judge")
        truths = [_truth(item, name) for item in items]
        return all(truths) if name == "all" else any(truths)
    numbers = [_number(item) for item in items]
    if name == "sum":
        return math.fsum(numbers)
    if not numbers:
        raise EvaluationError(f"{name}() of no values")
    if name == "avg":
        return math.fsum(numbers) / len(numbers)
    return min(numbers) if name == "min" else max(numbers)


def _map(value: Value, fn: Callable[[float], Value]) -> Value:
    if isinstance(value, list):
        return [_map(v, fn) for v in value]
    return fn(_number(value))


def _default(value: Value, fallback: Value) -> Value:
    if value is None or (isinstance(value, list) and not value):
        return fallback
    if isinstance(value, list):
        return [_default(v, fallback) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return fallback
    return value


def _show(value: Value) -> str:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"the number {value:g}" if isinstance(value, float) else str(value)
