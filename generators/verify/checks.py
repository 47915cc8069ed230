"""Rewrite a sample's tests so that their assertions are judged outside the sample.

Why: a test that runs in the sample's interpreter can be made to "pass" by the sample
(patched ``unittest`` helpers, an always-true ``__eq__``, a patched ``math.isclose``...).
So, on the host and before anything runs, each ``assert`` statement (anywhere in a
test) and each common ``self.assert*`` call becomes ``_taosha_check(<id>, [<operands>])``:
the sample's process only computes the operands and reports them as plain data
(``generators.verify.plain``); the comparison runs in the harness process.

Operands that are literals (``ast.literal_eval``) never go to the sample's process: the
expected value of ``assert add(1, 2) == 3`` stays in the harness. A check whose expected
value is such a literal, compared by equality (``==``, ``is None``, ``approx``...), is
*anchored*: whatever the sample does to its own process, it can pass an anchored check
only by reporting the right value.

A check written directly in the body of a test (not inside a loop, branch, ``try`` or
``with``) is *unconditional*: it must be reported, so a sample cannot pass by
suppressing the checks it would fail. A row is verified only if every unconditional
check was reported, every reported check held, and at least one unconditional
anchored check held.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field

from generators.verify.code_parse import TestCase
from generators.verify.plain import Unsupported, encode

CHECK_FN = "_taosha_check"
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
        ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_NEGATE = {"==": "!=", "!=": "==", "in": "not in", "not in": "in", "is": "is not", "is not": "is"}
_ANCHOR_OPS = {"==", "is", "approx", "isclose", "almost", "seq_eq", "count_eq", "absdiff"}
_SINGLETONS = (None, True, False)
_UNITTEST_BINARY = {
    **dict.fromkeys(("assertEqual", "assertEquals", "assertListEqual", "assertTupleEqual", "assertDictEqual",
                     "assertSetEqual", "assertMultiLineEqual"), "=="),
    "assertNotEqual": "!=", "assertNotEquals": "!=", "assertIn": "in", "assertNotIn": "not in",
    "assertLess": "<", "assertLessEqual": "<=", "assertGreater": ">", "assertGreaterEqual": ">=",
    "assertIs": "is", "assertIsNot": "is not", "assertSequenceEqual": "seq_eq", "assertCountEqual": "count_eq",
    "assertAlmostEqual": "almost", "assertNotAlmostEqual": "not almost"}
_UNITTEST_UNARY = {"assertTrue": ("truth", None), "assertFalse": ("not", None),
                   "assertIsNone": ("is", None), "assertIsNotNone": ("is not", None)}


@dataclass
class Check:
    """One assertion: operands (a literal kept here, or the index of a value the sample reports) and ops."""

    id: int
    test: str
    ops: list[list]  # one op per neighbouring pair of operands: ["=="], ["approx", rel, abs]...; ["truth"] / ["not"]
    operands: list[dict] = field(default_factory=list)  # {"lit": encoded} | {"val": i}
    source: str = ""
    style: str = "assert"  # "assert" | "unittest": how a failure message is written
    own: bool = True  # belongs to the test itself (not a helper or setUp of its TestCase)
    unconditional: bool = False  # directly in the test's body: every run of the test reaches it
    bare_call: bool = False  # a truth check of a plain call of the solution: assert is_prime(7)

    @property
    def binding(self) -> bool:
        """Unconditional, and anchored or the truth of a bare call: what a verified row needs at least one of.

        Passing a truth check by forging its report takes what ``return True`` (or False)
        would do, so it binds the function as much as the test itself does.
        """
        return self.unconditional and (self.anchored or self.bare_call)

    @property
    def anchored(self) -> bool:
        if len(self.operands) < 2:
            return False
        for i, op in enumerate(self.ops):
            pair = self.operands[i:i + 2]
            if op[0] in _ANCHOR_OPS and {"lit", "val"} == {next(iter(o)) for o in pair}:
                return True
        return False

    def to_dict(self) -> dict:
        return {**asdict(self), "anchored": self.anchored, "binding": self.binding}


_PURE_CALLS = {"tuple": tuple, "list": list, "set": set, "frozenset": frozenset, "sorted": sorted, "float": float,
               "int": int, "abs": abs, "round": round, "min": min, "max": max, "sum": sum, "len": len, "bool": bool}
_NUM_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
            ast.Pow: lambda a, b: a ** b}


def fold(node: ast.expr, depth: int = 0) -> object:
    """The value of an expression made only of literals, arithmetic and pure builtins (``tuple([1, 2])``,
    ``2.0 / 3.0``); ValueError for anything else. Evaluated here with the real builtins, bounded in size."""
    if depth > 30:
        raise ValueError("too deep")
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = fold(node.operand, depth + 1)
        if type(v) not in (int, float):
            raise ValueError("not a number")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _NUM_OPS:
        a, b = fold(node.left, depth + 1), fold(node.right, depth + 1)
        if type(a) not in (int, float) or type(b) not in (int, float):
            raise ValueError("not numbers")
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 2 ** 64):
            raise ValueError("too large")
        try:
            return _NUM_OPS[type(node.op)](a, b)
        except (ArithmeticError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PURE_CALLS
            and not node.keywords and 1 <= len(node.args) <= 2 and not any(isinstance(a, ast.Starred) for a in node.args)):
        args = [fold(a, depth + 1) for a in node.args]
        try:
            return _PURE_CALLS[node.func.id](*args)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(str(exc)) from None
    raise ValueError("not a literal expression")


def _literal(node: ast.expr) -> tuple[bool, object]:
    try:
        return True, encode(fold(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, Unsupported):
        return False, None


def _is_call_to(node: ast.expr, *names: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    return name in names


def _literal_kwargs(call: ast.Call, allowed: dict[str, object]) -> list | None:
    """Literal values of ``allowed`` keywords (defaults otherwise); None if any keyword is not a literal."""
    values = dict(allowed)
    for kw in call.keywords:
        if kw.arg == "msg":
            continue
        if kw.arg not in allowed:
            return None
        ok, _ = _literal(kw.value)
        if not ok:
            return None
        values[kw.arg] = ast.literal_eval(kw.value)
    return list(values.values())


class _Rewriter(ast.NodeTransformer):
    def __init__(self, test: TestCase, first_id: int, callables: frozenset[str]):
        self.test = test
        self.callables = set(callables)  # the solution's functions; a checker's parameters are added below
        self.next_id = first_id
        self.checks: list[Check] = []
        self.method = test.name.split(".", 1)[1] if test.kind == "unittest" else None
        self.in_method = 0
        self.top_level: set[int] = set()  # ids of the statements directly in the test's body

    def mark_top_level(self, tree: ast.Module) -> None:
        """Which statements every run of the test reaches (unless an earlier one raises)."""
        kind = self.test.kind
        if kind == "assert":
            bodies = [tree.body]
        elif kind == "function":
            bodies = [n.body for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        else:
            bodies = [m.body for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body
                      if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == self.method]
        self.top_level = {id(stmt) for body in bodies for stmt in body}
        if kind == "function":  # check(candidate): the parameter is the solution's function
            self.callables |= {a.arg for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                               for a in n.args.args}

    # -- where a check belongs
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        inside = self.method is not None and node.name == self.method and not self.in_method
        self.in_method += inside
        self.generic_visit(node)
        self.in_method -= inside
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    # -- what becomes a check
    def visit_Assert(self, node: ast.Assert) -> list[ast.stmt]:
        parts = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And) else [
            node.test]
        source = ast.unparse(node)
        return [self._emit(self._from_expr(p), source, "assert", node) for p in parts]

    def visit_Expr(self, node: ast.Expr) -> ast.stmt:
        call = node.value
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "self" and not any(isinstance(a, ast.Starred) for a in call.args)):
            spec = self._from_unittest(call)
            if spec is not None:
                return self._emit(spec, ast.unparse(node), "unittest", node)
        return self.generic_visit(node)

    # -- building checks: (ops, operand nodes)
    def _from_expr(self, e: ast.expr) -> tuple[list[list], list[ast.expr]]:
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            inner = e.operand
            if isinstance(inner, ast.Compare) and len(inner.ops) == 1 and _CMP[type(inner.ops[0])] in _NEGATE:
                ops, nodes = self._compare([_NEGATE[_CMP[type(inner.ops[0])]]], [inner.left, inner.comparators[0]], e)
                return ops, nodes
            return [["not"]], [inner]
        if isinstance(e, ast.Compare):
            return self._compare([_CMP[type(op)] for op in e.ops], [e.left, *e.comparators], e)
        if _is_call_to(e, "isclose") and len(e.args) == 2:
            params = _literal_kwargs(e, {"rel_tol": 1e-9, "abs_tol": 0.0})
            if params is not None:
                return [["isclose", *params]], list(e.args)
        return [["truth"]], [e]

    def _compare(self, ops: list[str], nodes: list[ast.expr], whole: ast.expr) -> tuple[list[list], list[ast.expr]]:
        for i, op in enumerate(ops):  # identity is judged by value only against None/True/False
            if op in ("is", "is not") and not any(isinstance(n, ast.Constant) and any(n.value is s for s in _SINGLETONS)
                                                  for n in nodes[i:i + 2]):
                return [["truth"]], [whole]
        if len(ops) == 1 and ops[0] in ("<", "<=") and _is_call_to(nodes[0], "abs", "fabs") and len(nodes[0].args) == 1:
            inner = nodes[0].args[0]  # abs(f(x) - 2.0 / 3.0) < 1e-6: within eps of a literal
            ok, _ = _literal(nodes[1])
            if ok and isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub):
                return [["absdiff", ops[0], fold(nodes[1])]], [inner.left, inner.right]
        if len(ops) == 1 and ops[0] in ("==", "!="):
            for side in (0, 1):
                n = nodes[side]
                if _is_call_to(n, "approx") and len(n.args) == 1:
                    params = _literal_kwargs(n, {"rel": None, "abs": None})
                    if params is not None:
                        nodes = list(nodes)
                        nodes[side] = n.args[0]
                        return [["approx" if ops[0] == "==" else "not approx", *params]], nodes
        return [[op] for op in ops], nodes

    def _from_unittest(self, call: ast.Call) -> tuple[list[list], list[ast.expr]] | None:
        name = call.func.attr
        if name in _UNITTEST_UNARY and call.args:
            op, other = _UNITTEST_UNARY[name]
            if any(kw.arg != "msg" for kw in call.keywords):
                return None
            if op in ("truth", "not"):
                return [[op]], [call.args[0]]
            return [[op]], [call.args[0], ast.Constant(other)]
        if name in _UNITTEST_BINARY and len(call.args) >= 2:
            op = _UNITTEST_BINARY[name]
            if op.endswith("almost"):
                params = _literal_kwargs(call, {"places": None, "delta": None})
                if params is None or len(call.args) > 3:
                    return None
                places, delta = params
                if len(call.args) == 3:
                    ok, _ = _literal(call.args[2])
                    if not ok:
                        return None
                    places = fold(call.args[2])
                return [[op, 7 if places is None else places, delta]], call.args[:2]
            if any(kw.arg != "msg" for kw in call.keywords) or len(call.args) > 3:
                return None
            if op in ("is", "is not"):
                return self._compare([op], call.args[:2], ast.Compare(call.args[0], [
                    ast.Is() if op == "is" else ast.IsNot()], [call.args[1]]))
            return [[op]], call.args[:2]
        return None

    def _emit(self, spec: tuple[list[list], list[ast.expr]], source: str, style: str, where: ast.AST) -> ast.stmt:
        ops, nodes = spec
        operands: list[dict] = []
        values: list[ast.expr] = []
        for n in nodes:
            ok, lit = _literal(n)
            if ok:
                operands.append({"lit": lit})
            else:
                operands.append({"val": len(values)})
                values.append(n)
        bare = (ops[0][0] in ("truth", "not") and isinstance(nodes[0], ast.Call)
                and isinstance(nodes[0].func, ast.Name) and nodes[0].func.id in self.callables)
        check = Check(self.next_id, self.test.name, ops, operands, source, style,
                      own=self.method is None or self.in_method > 0, unconditional=id(where) in self.top_level,
                      bare_call=bare)
        self.checks.append(check)
        self.next_id += 1
        call = ast.Expr(ast.Call(ast.Name(CHECK_FN, ast.Load()), [ast.Constant(check.id), ast.List(values, ast.Load())],
                                 []))
        return ast.copy_location(call, where)


def rewrite_test(test: TestCase, first_id: int, callables: frozenset[str] = frozenset()) -> tuple[str, list[Check]]:
    """``test``'s source with its assertions turned into checks, and those checks (ids from ``first_id``).

    ``callables``: the solution's function names (a truth check of a bare call of one binds).
    """
    tree = ast.parse(test.source)
    rw = _Rewriter(test, first_id, callables)
    rw.mark_top_level(tree)
    tree = ast.fix_missing_locations(rw.visit(tree))
    return ast.unparse(tree) + "\n", rw.checks
