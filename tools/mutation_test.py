"""Mutation testing of the suite: mutate a COPY of torch's lr_scheduler.py and check the suite notices.

    python tools/mutation_test.py [-j 2] [--only StepLR] [--sample 400 --seed 1 --plus-methods get_lr,step]
                                  [--limit N] [--mutant m0042] [--list] [--json out.json]

Each mutant is one small AST change (see OPERATORS) to the scheduler code of the installed
torch/optim/lr_scheduler.py (classes deriving from LRScheduler/ReduceLROnPlateau and the module helpers they
use), written out with ast.unparse. The installed torch is never touched: for each mutant a temporary directory
holding the mutant and a `sitecustomize.py` goes first on PYTHONPATH; the sitecustomize installs a meta-path
finder before `import torch` runs, so `torch.optim.lr_scheduler` is loaded from the mutant file. Then
`python -m conformance run -q` runs in a subprocess: exit 0 = the mutant SURVIVED (no case noticed), any
other exit or more than --timeout seconds = KILLED.

Before the mutants, four checks (a campaign stops if one fails):
  hook      a subprocess under the hook really imports torch.optim.lr_scheduler from the mutant file;
  baseline  the unmutated module, round-tripped through ast.unparse and loaded through the hook, passes;
  sentinel  a mutant whose every scheduler raises in its constructor is killed with every case erroring;
  probe     an instrumented copy of the module records, over one full run, which mutated code each case
            reaches and whether the mutated expression ever evaluates differently from the original
            ("weak mutation"). It labels every survivor, which is what makes equivalent mutants easy to judge:
              not reached        no case executes that code: a real gap (or dead code);
              reached            executed, but the suite never fed it a value where original and mutant
                                 differ (e.g. the `<` vs `<=` boundary): usually a real gap;
              infected           the mutant computed a different value during the run, yet no trace differed:
                                 likely equivalent (or the effect is not observable by the harness);
              executed           a statement-level mutant (deleted statement/body) whose code ran;
              n/a                not probed (default arguments, state_dict attribute drops).

By default a mutant inside a concrete scheduler class runs only the cases that use that scheduler anywhere in
their tree (`run --scheduler NAME`): no other case can construct it, so this is sound and much faster;
mutants in LRScheduler or a helper run every case. `--no-filter` runs every case for every mutant.
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import copy
import dataclasses
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Target:
    """A torch module this tool mutates (--module)."""

    module: str  # the dotted name the import hook loads from the mutant file
    id_prefix: str  # mutant ids are this letter and 4 digits: ids of two modules never collide
    scheduler: str | None  # the one scheduler whose cases can reach the module's code; None: every case


TARGETS = {
    "lr_scheduler": Target("torch.optim.lr_scheduler", "m", None),
    # SWALR is the one LRScheduler subclass outside lr_scheduler.py. The rest of swa_utils (AveragedModel,
    # update_bn) is no scheduler: scopes() leaves it out, as it leaves out lr_scheduler.py's non-schedulers.
    "swa_utils": Target("torch.optim.swa_utils", "s", "SWALR"),
}
DEFAULT_TARGET = TARGETS["lr_scheduler"]
ROOT_CLASSES = ("LRScheduler", "_LRScheduler", "ReduceLROnPlateau")  # _LRScheduler: the base class in torch 1.13
STATE_METHODS = ("state_dict", "load_state_dict")
SENTINEL_MESSAGE = "lr-conformance mutation sentinel"
DEFAULT_TIMEOUT = 60.0

OPERATORS = {
    "cmp": "comparison flip: < <=, > >=, == !=, in / not in, is / is not",
    "arith": "arithmetic swap: + -, * /, // % (also in augmented assignments)",
    "const": "integer constant +1 / -1",
    "bool": "boolean constant flip",
    "logic": "`and` / `or` swap",
    "minmax": "min / max swap",
    "warn": "remove a warnings.warn(...) call",
    "state": "state_dict / load_state_dict key handling: drop a key from an exclusion tuple, .pop(k) -> .get(k), "
             "delete a key assignment or a call, or make a scheduler's state_dict() omit one state attribute",
    "if-body": "replace the body of an `if` (or its `else`) with `pass`",
}

# Things never mutated (besides docstrings, strings, f-strings, annotations and `raise ...` statements):
# keyword arguments that only tune diagnostics or assert an invariant the constructors already enforce.
SKIPPED_KEYWORDS = {"stacklevel", "strict"}

_SWAP_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.FloorDiv: ast.Mod, ast.Mod: ast.FloorDiv}
_SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
             ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
           ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}
# how to find the operator token in the source between two operands (comments already blanked out)
_TOKEN = {ast.Add: r"\+", ast.Sub: r"-", ast.Mult: r"\*(?!\*)", ast.Div: r"/(?!/)", ast.FloorDiv: r"//",
          ast.Mod: r"%", ast.Lt: r"<(?![=<])", ast.LtE: r"<=", ast.Gt: r">(?![=>])", ast.GtE: r">=",
          ast.Eq: r"==", ast.NotEq: r"!=", ast.In: r"(?<!not )\bin\b", ast.NotIn: r"\bnot\s+in\b",
          ast.Is: r"\bis\b(?!\s+not\b)", ast.IsNot: r"\bis\s+not\b", ast.And: r"\band\b", ast.Or: r"\bor\b"}
# method names whose call has side effects: an expression containing one is never evaluated twice by the probe
_IMPURE_CALLS = {"pop", "update", "step", "_update_lr", "_initial_step", "load_state_dict", "state_dict", "fill_",
                 "append", "extend", "insert", "remove", "clear", "setdefault", "recursive_undo", "_reduce_lr",
                 "_reset", "_init_is_better", "_init_scale_fn", "warn", "patch_track_step_called",
                 "_update_param_group_val", "_warn_get_lr_called_within_step", "super"}

Path_ = tuple  # a path from the module to a node: ((field, index-or-None), ...)


# --- mutants -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Mutant:
    id: str
    operator: str
    scope: str  # the scheduler class or module helper the mutation is in
    method: str | None  # the method (outermost function inside the class) or None at class level
    line: int  # in the original file
    col: int
    description: str
    original: str  # original physical line(s)
    mutated: str  # the same line(s) after the mutation
    kind: str  # how to apply it (see _apply)
    path: Path_
    arg: Any = None
    probe: tuple | None = None  # ("expr", site_path) | ("stmt", stmt_path) | ("body", if_path, field) | ("state",)
    edit: tuple | None = None  # ((line, col), (end_line, end_col), replacement) on the original source, for display

    def where(self) -> str:
        return f"{self.scope}.{self.method}" if self.method else self.scope

    def public(self) -> dict:
        return {
            "id": self.id, "operator": self.operator, "scope": self.scope, "method": self.method,
            "line": self.line, "col": self.col, "description": self.description,
            "original": self.original, "mutated": self.mutated,
        }


def _resolve(root: ast.AST, path: Path_) -> ast.AST:
    node = root
    for field, index in path:
        node = getattr(node, field)
        if index is not None:
            node = node[index]
    return node


def _children(node: ast.AST) -> Iterable[tuple[str, int | None, ast.AST]]:
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield field, i, item
        elif isinstance(value, ast.AST):
            yield field, None, value


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _call_name(node: ast.AST) -> str | None:
    return _name_of(node.func) if isinstance(node, ast.Call) else None


def _is_warnings_warn(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "warn"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "warnings")


def _is_str(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_str(node.left) or _is_str(node.right)
    return False


def _pure(site: ast.AST) -> bool:
    """May this expression be evaluated twice (by the probe) without changing anything?"""
    for sub in ast.walk(site):
        if isinstance(sub, (ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr, ast.Lambda)):
            return False
        if isinstance(sub, ast.Call) and _call_name(sub) in _IMPURE_CALLS:
            return False
    return True


def _references(node: ast.AST) -> set[str]:
    """Names used by code under `node`, not counting annotations."""
    found = set()

    def visit(n):
        if isinstance(n, ast.Name):
            found.add(n.id)
        for field, _, child in _children(n):
            if field in ("annotation", "returns"):
                continue
            visit(child)

    visit(node)
    return found


def scopes(tree: ast.Module) -> tuple[list[str], list[str]]:
    """(scheduler classes, helpers): module-level classes deriving from LRScheduler/ReduceLROnPlateau (and those
    themselves), and the module-level functions/classes that their code refers to, transitively."""
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    classes: list[str] = []
    changed = True
    while changed:
        changed = False
        for name, node in defs.items():
            if name in classes or not isinstance(node, ast.ClassDef):
                continue
            if name in ROOT_CLASSES or any(_name_of(b) in set(ROOT_CLASSES) | set(classes) for b in node.bases):
                classes.append(name)
                changed = True
    classes.sort(key=lambda n: defs[n].lineno)
    helpers: list[str] = []
    todo = [defs[c] for c in classes]
    while todo:
        for name in sorted(_references(todo.pop())):
            if name in defs and name not in classes and name not in helpers:
                helpers.append(name)
                todo.append(defs[name])
    helpers.sort(key=lambda n: defs[n].lineno)
    return classes, helpers


def _state_attributes(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> list[str]:
    """Attributes a scheduler changes after construction: `self.X` assigned in a method other than __init__,
    or augmented anywhere, in the class or its in-file bases. These are what state_dict() must carry."""
    found: list[str] = []
    seen_classes = set()

    def visit_class(c: ast.ClassDef):
        if c.name in seen_classes:
            return
        seen_classes.add(c.name)
        for base in c.bases:
            if _name_of(base) in classes:
                visit_class(classes[_name_of(base)])
        for item in c.body:
            if not isinstance(item, ast.FunctionDef):
                continue
            for n in ast.walk(item):
                targets = []
                if isinstance(n, ast.Assign) and item.name != "__init__":
                    targets = n.targets
                elif isinstance(n, ast.AnnAssign) and n.value is not None and item.name != "__init__":
                    targets = [n.target]
                elif isinstance(n, ast.AugAssign):
                    targets = [n.target]
                for t in targets:
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                            and t.attr != "optimizer" and t.attr not in found):
                        found.append(t.attr)

    visit_class(cls)
    return found


class _Source:
    """The original text, for turning AST positions into display lines and edits."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def index(self, line: int, col: int) -> int:
        raw = self.lines[line - 1].encode("utf-8")[:col]
        return self.starts[line - 1] + len(raw.decode("utf-8", errors="ignore"))

    def position(self, index: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self.starts, index)
        col = len(self.text[self.starts[line - 1]:index].encode("utf-8"))
        return line, col

    def segment(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        return self.text[self.index(*start):self.index(*end)]

    def token_between(self, left: ast.AST, right: ast.AST, op: type) -> tuple[tuple[int, int], tuple[int, int]]:
        lo, hi = self.index(left.end_lineno, left.end_col_offset), self.index(right.lineno, right.col_offset)
        between = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), self.text[lo:hi])
        match = re.search(_TOKEN[op], between)
        if match is None:
            raise ValueError(f"operator {_SYMBOL[op]!r} not found between line {left.end_lineno} and {right.lineno}")
        return self.position(lo + match.start()), self.position(lo + match.end())

    def display(self, start: tuple[int, int], end: tuple[int, int], replacement: str) -> tuple[str, str]:
        first, last = start[0], end[0]
        original = "".join(self.lines[first - 1:last])
        a, b = self.index(*start) - self.starts[first - 1], self.index(*end) - self.starts[first - 1]
        return original.rstrip("\n"), (original[:a] + replacement + original[b:]).rstrip("\n")

    def apply(self, edit) -> str:
        start, end, replacement = edit
        return self.text[:self.index(*start)] + replacement + self.text[self.index(*end):]


@dataclasses.dataclass
class _Ctx:
    scope: str
    method: str | None = None
    state_method: bool = False
    in_default: bool = False


class _Generator:
    def __init__(self, text: str):
        self.source = _Source(text)
        self.tree = ast.parse(text)
        self.classes, self.helpers = scopes(self.tree)
        self.mutants: list[Mutant] = []
        self.by_name = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}

    def run(self) -> list[Mutant]:
        for i, node in enumerate(self.tree.body):
            name = getattr(node, "name", None)
            if name in self.classes or name in self.helpers:
                ctx = _Ctx(scope=name)
                self._visit(node, (("body", i),), [], ctx)
                if name in self.classes and name not in ("LRScheduler", "_LRScheduler"):
                    self._state_drops(node, (("body", i),), name)
        return self.mutants

    # -- helpers --
    def _add(self, operator, ctx, anchor: ast.AST, description, kind, path, arg=None, probe=None, edit=None,
             display=None):
        if display is None:
            display = self.source.display(*edit)
        self.mutants.append(Mutant(
            id="", operator=operator, scope=ctx.scope, method=ctx.method, line=anchor.lineno,
            col=anchor.col_offset, description=description, original=display[0], mutated=display[1],
            kind=kind, path=path, arg=arg, probe=probe, edit=edit,
        ))

    def _site(self, stack: list[tuple[ast.AST, Path_]], node: ast.AST, path: Path_, ctx: _Ctx, up: bool):
        """Where the probe watches this mutant: the expression whose value it compares (the node itself, or for a
        constant or a tuple its nearest enclosing expression), or, when that expression must not be evaluated
        twice, the enclosing statement (reach only). None for default arguments."""
        if ctx.in_default:
            return None
        candidates = []
        if up:
            for parent, parent_path in reversed(stack):
                if isinstance(parent, (ast.stmt, ast.arguments, ast.comprehension, ast.Lambda)):
                    break
                if isinstance(parent, ast.expr) and not isinstance(parent, (ast.Slice, ast.Starred)) \
                        and isinstance(getattr(parent, "ctx", ast.Load()), ast.Load):
                    candidates.append(parent_path)
                    break
        candidates.append(path)
        for site_path in candidates:
            if _pure(_resolve(self.tree, site_path)):
                return ("expr", site_path)
        return ("stmt", self._enclosing_stmt(stack, path))

    @staticmethod
    def _enclosing_stmt(stack, path) -> Path_:
        for parent, parent_path in reversed(stack):
            if isinstance(parent, ast.stmt):
                return parent_path
        return path

    # -- the walk --
    def _visit(self, node: ast.AST, path: Path_, stack: list, ctx: _Ctx) -> None:
        if isinstance(node, ast.Raise) or isinstance(node, ast.JoinedStr):
            return  # the exception and its message are not behaviour we mutate; `if` guards around it are
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if ctx.method is None and ctx.scope in self.classes:
                ctx = dataclasses.replace(ctx, method=node.name, state_method=node.name in STATE_METHODS)
        self._mutate(node, path, stack, ctx)
        stack = stack + [(node, path)]
        for field, index, child in _children(node):
            if field in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            child_ctx = ctx
            if isinstance(node, ast.arguments) and field in ("defaults", "kw_defaults"):
                child_ctx = dataclasses.replace(ctx, in_default=True)
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if _is_warnings_warn(node):
                    continue  # message, category, stacklevel
                if name == "cast" and field == "args" and index == 0:
                    continue  # a type
            if isinstance(node, ast.keyword) and node.arg in SKIPPED_KEYWORDS:
                continue
            if field == "body" and index == 0 and isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant) \
                    and isinstance(child.value.value, str):
                continue  # docstring
            self._visit(child, path + ((field, index),), stack, child_ctx)

    def _mutate(self, node, path, stack, ctx) -> None:
        src = self.source
        if isinstance(node, ast.BinOp) and type(node.op) in _SWAP_ARITH and not _is_str(node):
            new = _SWAP_ARITH[type(node.op)]
            start, end = src.token_between(node.left, node.right, type(node.op))
            self._add("arith", ctx, node, f"`{_SYMBOL[type(node.op)]}` -> `{_SYMBOL[new]}`", "op", path, new,
                      self._site(stack, node, path, ctx, up=False), (start, end, _SYMBOL[new]))
        elif isinstance(node, ast.AugAssign) and type(node.op) in _SWAP_ARITH:
            new = _SWAP_ARITH[type(node.op)]
            lo = src.index(node.target.end_lineno, node.target.end_col_offset)
            hi = src.index(node.value.lineno, node.value.col_offset)
            match = re.search(re.escape(_SYMBOL[type(node.op)] + "="), src.text[lo:hi])
            start, end = src.position(lo + match.start()), src.position(lo + match.end())
            self._add("arith", ctx, node, f"`{_SYMBOL[type(node.op)]}=` -> `{_SYMBOL[new]}=`", "op", path, new,
                      ("stmt", path), (start, end, _SYMBOL[new] + "="))
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) not in _SWAP_CMP:
                    continue
                new = _SWAP_CMP[type(op)]
                left = node.left if i == 0 else node.comparators[i - 1]
                start, end = src.token_between(left, node.comparators[i], type(op))
                self._add("cmp", ctx, node, f"`{_SYMBOL[type(op)]}` -> `{_SYMBOL[new]}`", "cmpop", path, (i, new),
                          self._site(stack, node, path, ctx, up=False), (start, end, _SYMBOL[new]))
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            tokens = [src.token_between(a, b, type(node.op)) for a, b in zip(node.values, node.values[1:])]
            # display: replace every `and`/`or` of this BoolOp (they are one operator in the AST)
            start, end = tokens[0][0], tokens[-1][1]
            text = src.segment(start, end)
            base = src.index(*start)
            for t_start, t_end in reversed(tokens):
                a, b = src.index(*t_start) - base, src.index(*t_end) - base
                text = text[:a] + _SYMBOL[new] + text[b:]
            self._add("logic", ctx, node, f"`{_SYMBOL[type(node.op)]}` -> `{_SYMBOL[new]}`", "boolop", path, new,
                      self._site(stack, node, path, ctx, up=False), (start, end, text))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            new = not node.value
            self._add("bool", ctx, node, f"`{node.value}` -> `{new}`", "const", path, new,
                      self._site(stack, node, path, ctx, up=True),
                      ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset), repr(new)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            for delta in (1, -1):
                new = node.value + delta
                self._add("const", ctx, node, f"`{node.value}` -> `{new}`", "const", path, new,
                          self._site(stack, node, path, ctx, up=True),
                          ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset), repr(new)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            new = "max" if node.func.id == "min" else "min"
            f = node.func
            self._add("minmax", ctx, node, f"`{f.id}` -> `{new}`", "name", path + (("func", None),), new,
                      self._site(stack, node, path, ctx, up=False),
                      ((f.lineno, f.col_offset), (f.end_lineno, f.end_col_offset), new))
        elif isinstance(node, ast.If):
            for field in ("body", "orelse"):
                body = getattr(node, field)
                if not body or all(isinstance(s, ast.Pass) for s in body):
                    continue
                if field == "orelse" and len(body) == 1 and isinstance(body[0], ast.If) \
                        and src.lines[body[0].lineno - 1].encode()[body[0].col_offset:].startswith(b"elif"):
                    continue  # an `elif`: its own body is mutated as an If
                what = "if" if field == "body" else "else"
                edit = ((body[0].lineno, body[0].col_offset), (body[-1].end_lineno, body[-1].end_col_offset), "pass")
                self._add("if-body", ctx, body[0], f"`{what}` body -> `pass`", "body", path, field,
                          ("body", path, field), edit)
        if isinstance(node, ast.Expr) and _is_warnings_warn(node.value):
            self._stmt_pass("warn", node, path, ctx, "remove `warnings.warn(...)`")
        if ctx.state_method:
            self._state_ops(node, path, stack, ctx)

    def _stmt_pass(self, operator, node, path, ctx, description):
        edit = ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset), "pass")
        self._add(operator, ctx, node, description, "stmt", path, None, ("stmt", path), edit)

    def _state_ops(self, node, path, stack, ctx) -> None:
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for j, comp in enumerate(node.comparators):
                if not isinstance(comp, (ast.Tuple, ast.List, ast.Set)):
                    continue
                if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in comp.elts):
                    continue
                for k, elt in enumerate(comp.elts):
                    rest = copy.deepcopy(comp)
                    del rest.elts[k]
                    edit = ((comp.lineno, comp.col_offset), (comp.end_lineno, comp.end_col_offset), ast.unparse(rest))
                    self._add("state", ctx, comp, f"no longer exclude key {elt.value!r}", "drop_elt",
                              path + (("comparators", j),), k, self._site(stack + [(node, path)], comp,
                                                                          path + (("comparators", j),), ctx, up=True),
                              edit)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "pop" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            parent = stack[-1][0] if stack else None
            if not isinstance(parent, ast.Expr):  # a bare `d.pop(k)` statement is deleted instead (same effect)
                f = node.func
                end = (f.end_lineno, f.end_col_offset)
                start = (f.end_lineno, f.end_col_offset - 3)
                self._add("state", ctx, node, f"`.pop({node.args[0].value!r})` -> `.get(...)`: the key stays",
                          "attr", path + (("func", None),), "get", ("stmt", self._enclosing_stmt(stack, path)),
                          (start, end, "get"))
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript) \
                and isinstance(node.targets[0].slice, ast.Constant) and isinstance(node.targets[0].slice.value, str):
            self._stmt_pass("state", node, path, ctx, f"delete the assignment of key {node.targets[0].slice.value!r}")
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not _is_warnings_warn(node.value):
            self._stmt_pass("state", node, path, ctx, f"delete the call `{ast.unparse(node.value.func)}(...)`")

    def _state_drops(self, cls: ast.ClassDef, path: Path_, name: str) -> None:
        own = next((item for item in cls.body if isinstance(item, ast.FunctionDef) and item.name == "state_dict"),
                   None)
        anchor = own or cls
        line = self.source.lines[anchor.lineno - 1].rstrip("\n")
        indent = " " * (cls.col_offset + 4)
        call = "self._lrc_original_state_dict()  # the original, renamed" if own else "super().state_dict()"
        for attr in _state_attributes(cls, self.by_name):
            added = (f"{indent}def state_dict(self):  # MUTANT, added to {name}\n"
                     f"{indent}    state = {call}\n"
                     f"{indent}    state.pop({attr!r}, None)\n"
                     f"{indent}    return state")
            self._add("state", _Ctx(scope=name, method="state_dict"), anchor,
                      f"state_dict() omits {attr!r}", "state_drop", path, attr, ("state",), None,
                      display=(line, f"{line}\n{added}"))


def check_display(text: str, mutants: list[Mutant]) -> list[str]:
    """Problems where a mutant's displayed edit (original -> mutated line) is not exactly the AST mutation that
    runs: the edited text must parse to the same tree as the mutated AST. Empty when all agree."""
    class Fold(ast.NodeTransformer):  # `-1` is UnaryOp(USub, 1) when parsed, Constant(-1) when mutated
        def visit_UnaryOp(self, node):
            node = self.generic_visit(node)
            if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
                    and type(node.operand.value) in (int, float):
                return ast.Constant(-node.operand.value)
            return node

    source, module, problems = _Source(text), Module(text), []
    for m in mutants:
        if m.edit is None:
            continue
        want = ast.dump(Fold().visit(ast.parse(module.mutant_source(m))))
        try:
            got = ast.dump(Fold().visit(ast.parse(source.apply(m.edit))))
        except SyntaxError as exc:
            problems.append(f"{m.id}: displayed edit does not parse: {exc}")
            continue
        if got != want:
            problems.append(f"{m.id}: displayed edit differs from the AST mutation ({m.description}, line {m.line})")
    return problems


def generate(text: str, id_prefix: str = DEFAULT_TARGET.id_prefix) -> list[Mutant]:
    """All mutants of a module's source, in source order, with stable ids m0001, m0002, ... (the prefix is the
    target's: s0001 for swa_utils)."""
    mutants = _Generator(text).run()
    mutants.sort(key=lambda m: (m.line, m.col, m.operator, m.description))
    for i, m in enumerate(mutants, 1):
        m.id = f"{id_prefix}{i:04d}"
    return mutants


# --- applying mutants and writing sources ------------------------------------------------------------


def _apply(tree: ast.Module, m: Mutant, rel: Path_ | None = None) -> Callable[[], None]:
    """Apply `m` in place to `tree` (the module, or with `rel` a subtree at that relative path); return the undo."""
    path = m.path if rel is None else rel
    if m.kind in ("op", "boolop"):
        node = _resolve(tree, path)
        old = node.op
        node.op = m.arg()
        return lambda: setattr(node, "op", old)
    if m.kind == "cmpop":
        node = _resolve(tree, path)
        i, new = m.arg
        old = node.ops[i]
        node.ops[i] = new()
        return lambda: node.ops.__setitem__(i, old)
    field = {"const": "value", "name": "id", "attr": "attr"}.get(m.kind)  # one field of one node replaced
    if field is not None:
        node = _resolve(tree, path)
        old = getattr(node, field)
        setattr(node, field, m.arg)
        return lambda: setattr(node, field, old)
    if m.kind == "drop_elt":
        node = _resolve(tree, path)
        old = list(node.elts)
        del node.elts[m.arg]
        return lambda: setattr(node, "elts", old)
    if m.kind == "stmt":
        parent = _resolve(tree, path[:-1])
        field, index = path[-1]
        stmts = getattr(parent, field)
        old = stmts[index]
        stmts[index] = ast.Pass()
        return lambda: stmts.__setitem__(index, old)
    if m.kind == "body":
        node = _resolve(tree, path)
        old = getattr(node, m.arg)
        setattr(node, m.arg, [ast.Pass()])
        return lambda: setattr(node, m.arg, old)
    if m.kind == "state_drop":
        cls = _resolve(tree, path)
        old_body = list(cls.body)
        own = next((i for i, s in enumerate(cls.body) if isinstance(s, ast.FunctionDef) and s.name == "state_dict"),
                   None)
        if own is not None:
            renamed = copy.copy(cls.body[own])
            renamed.name = "_lrc_original_state_dict"
            cls.body[own] = renamed
            call = "self._lrc_original_state_dict()"
        else:
            call = "super().state_dict()"
        wrapper = ast.parse(textwrap.dedent(f"""
            def state_dict(self):
                state = {call}
                state.pop({m.arg!r}, None)
                return state
        """)).body[0]
        cls.body.append(wrapper)
        return lambda: setattr(cls, "body", old_body)
    raise ValueError(f"unknown mutant kind {m.kind}")


class Module:
    """The original module's AST, from which mutant sources are unparsed (in place, then undone)."""

    def __init__(self, text: str):
        self.text = text
        self.tree = ast.parse(text)
        self._lock = threading.Lock()

    def baseline(self) -> str:
        return ast.unparse(self.tree)

    def mutant_source(self, m: Mutant) -> str:
        with self._lock:
            undo = _apply(self.tree, m)
            try:
                return ast.unparse(self.tree)
            finally:
                undo()

    def sentinel_source(self) -> str:
        classes, _ = scopes(self.tree)
        return self.baseline() + textwrap.dedent(f"""

            __lrc_mutant__ = "sentinel"
            def _lrc_sentinel_init(self, *args, **kwargs):
                raise RuntimeError({SENTINEL_MESSAGE!r})
            for _lrc_name in {classes!r}:
                globals()[_lrc_name].__init__ = _lrc_sentinel_init
        """)


# --- the probe: one instrumented run that records reach and infection ---------------------------------

_PROBE_RUNTIME = r'''
import atexit as _lrc_atexit
import json as _lrc_json
import math as _lrc_math
import os as _lrc_os
import warnings as _lrc_warnings
_lrc_reached = set()
_lrc_infected = set()

def _lrc_same(a, b):
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a and b != b:
            return True
        return a == b and _lrc_math.copysign(1.0, a) == _lrc_math.copysign(1.0, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_lrc_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_lrc_same(a[k], b[k]) for k in a)
    try:
        import torch as _lrc_torch
        if isinstance(a, _lrc_torch.Tensor):
            return a.dtype == b.dtype and a.shape == b.shape and bool(
                _lrc_torch.equal(a, b) or _lrc_torch.equal(a.isnan(), b.isnan()) and _lrc_torch.equal(
                    a.nan_to_num(0.0), b.nan_to_num(0.0)))
    except Exception:
        return False
    try:
        return bool(a == b)
    except Exception:
        return False

def _lrc_probe(ids, original, alternatives):
    value = original()
    for mid, alternative in zip(ids, alternatives):
        _lrc_reached.add(mid)
        if mid in _lrc_infected:
            continue
        try:
            with _lrc_warnings.catch_warnings():
                _lrc_warnings.simplefilter("ignore")
                other = alternative()
        except Exception:
            _lrc_infected.add(mid)
            continue
        if not _lrc_same(value, other):
            _lrc_infected.add(mid)
    return value

def _lrc_reach(ids):
    _lrc_reached.update(ids)

def _lrc_dump():
    out = _lrc_os.environ.get("LRC_PROBE_OUT")
    if out:
        with open(out, "w") as f:
            _lrc_json.dump({"reached": sorted(_lrc_reached), "infected": sorted(_lrc_infected)}, f)

_lrc_atexit.register(_lrc_dump)
'''

_PROBE_STATE = r'''
def _lrc_watch_state_dict(table):
    for cls in list(globals().values()):
        if isinstance(cls, type) and cls.__module__ == __name__ and "state_dict" in cls.__dict__:
            def make(orig):
                def state_dict(self, *args, **kwargs):
                    result = orig(self, *args, **kwargs)
                    if type(self).state_dict is state_dict:  # the outermost state_dict: its result is what is saved
                        for key in result:
                            mid = table.get((type(self).__name__, key))
                            if mid is not None:
                                _lrc_reached.add(mid)
                    return result
                return state_dict
            cls.state_dict = make(cls.__dict__["state_dict"])
'''


def instrumented_source(text: str, mutants: list[Mutant]) -> str:
    """The module with every probe-able mutant site wrapped: `_lrc_probe(ids, lambda: E, (lambda: E1, ...))`
    returns E's value and records whether each mutated E_i ever differs from it; statement-level mutants get a
    `_lrc_reach(ids)` before the statement (or at the top of the body they delete)."""
    pristine = ast.parse(text)  # alternatives are built from untouched copies
    tree = ast.parse(text)
    expr_sites: dict[int, tuple[ast.AST, Path_, list[Mutant]]] = {}
    before_stmt: dict[int, list[str]] = collections.defaultdict(list)
    top_of_body: dict[tuple[int, str], list[str]] = collections.defaultdict(list)
    state_table = {}
    for m in mutants:
        if m.probe is None:
            continue
        if m.probe[0] == "expr":
            site_path = m.probe[1]
            node = _resolve(tree, site_path)
            expr_sites.setdefault(id(node), (node, site_path, []))[2].append(m)
        elif m.probe[0] == "stmt":
            before_stmt[id(_resolve(tree, m.probe[1]))].append(m.id)
        elif m.probe[0] == "body":
            top_of_body[(id(_resolve(tree, m.probe[1])), m.probe[2])].append(m.id)
        elif m.probe[0] == "state":
            state_table[(m.scope, m.arg)] = m.id

    def lam(body: ast.expr) -> ast.Lambda:
        return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                                             kwarg=None, defaults=[]), body=body)

    class Wrap(ast.NodeTransformer):
        def visit(self, node):
            entry = expr_sites.get(id(node))
            node = self.generic_visit(node)
            if entry is None:
                return node
            _, site_path, ms = entry
            alternatives = []
            for m in ms:
                alt = copy.deepcopy(_resolve(pristine, site_path))
                rel = m.path[len(site_path):]
                if rel:
                    _apply(alt, m, rel)
                else:  # the mutated node is the site itself: apply on a holder
                    holder = ast.Expression(body=alt)
                    _apply(holder, m, (("body", None),))
                    alt = holder.body
                alternatives.append(lam(alt))
            ids = ast.Tuple(elts=[ast.Constant(m.id) for m in ms], ctx=ast.Load())
            return ast.Call(func=ast.Name("_lrc_probe", ast.Load()),
                            args=[ids, lam(node), ast.Tuple(elts=alternatives, ctx=ast.Load())], keywords=[])

    def reach(ids):
        return ast.Expr(ast.Call(func=ast.Name("_lrc_reach", ast.Load()),
                                 args=[ast.Tuple([ast.Constant(i) for i in ids], ast.Load())], keywords=[]))

    # statement probes first (by identity, before the expression wrapping replaces nodes)
    for node in list(ast.walk(tree)):
        for field, value in ast.iter_fields(node):
            if not isinstance(value, list) or not value or not isinstance(value[0], ast.stmt):
                continue
            new = []
            extra = top_of_body.get((id(node), field))
            if extra:
                new.append(reach(extra))
            for stmt in value:
                if id(stmt) in before_stmt:
                    new.append(reach(before_stmt[id(stmt)]))
                new.append(stmt)
            setattr(node, field, new)
    tree = Wrap().visit(tree)
    head = ast.parse(_PROBE_RUNTIME).body
    tail = ast.parse(_PROBE_STATE + f"\n_lrc_watch_state_dict({state_table!r})\n").body
    future = [i for i, s in enumerate(tree.body) if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    at = (future[-1] + 1) if future else (1 if ast.get_docstring(tree) else 0)
    tree.body = tree.body[:at] + head + tree.body[at:] + tail
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


# --- running the suite under the hook ----------------------------------------------------------------

SITECUSTOMIZE = '''\
# Written by lr-conformance tools/mutation_test.py. Makes `import {target}` load a mutant file: a meta-path
# finder installed at interpreter start-up, before `import torch` imports the module. The installed torch is
# never modified.
import importlib.machinery
import importlib.util
import os
import sys

_MUTANT = {path!r}
_TARGET = {target!r}


class _MutantFinder:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname == _TARGET:
            return importlib.util.spec_from_file_location(fullname, _MUTANT)
        return None


sys.meta_path.insert(0, _MutantFinder)

# keep any other sitecustomize working
_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or os.curdir) != _here])
if _spec is not None and _spec.loader is not None:
    _other = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_other)
'''


def write_hook(directory: Path, source: str, name: str = "lr_scheduler_mutant",
               target_module: str = DEFAULT_TARGET.module) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    module = directory / f"{name}.py"
    module.write_text(source, encoding="utf-8")
    (directory / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(path=str(module), target=target_module), encoding="utf-8")
    return module


def hook_env(directory: Path, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(directory)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("LR_CONFORMANCE_ADAPTER", None)  # grade torch, whatever the caller's environment says
    env.update(extra or {})
    return env


@dataclasses.dataclass
class RunResult:
    status: str  # killed | survived | timeout
    exit_code: int | None
    seconds: float
    killed_by: list[str]
    cases: int
    tail: str
    details: dict[str, str] = dataclasses.field(default_factory=dict)  # killing case id -> its one-line detail


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) reached the campaign: unwind through the cleanup, like KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class Stopping(RuntimeError):
    """A suite run was asked to start after the campaign began stopping."""


@dataclasses.dataclass(frozen=True)
class Children:
    """The suite runs of one campaign that are alive. Each runs in its own session (so a terminal's Ctrl-C
    does not reach it): a stopped campaign kills them itself, or they would outlive it, writing into its
    temporary directory."""
    procs: set = dataclasses.field(default_factory=set)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    stopping: threading.Event = dataclasses.field(default_factory=threading.Event)


def stop_children(children: Children) -> None:
    """No new suite run starts; every running one is killed (its whole process group)."""
    with children.lock:
        children.stopping.set()
        for proc in children.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_suite(directory: Path, source: str, timeout: float, suite_args: list[str], repo: Path = ROOT,
              extra_env: dict | None = None, name: str = "lr_scheduler_mutant",
              target_module: str = DEFAULT_TARGET.module, children: Children | None = None) -> RunResult:
    write_hook(directory, source, name, target_module)
    result_file = directory / "result.json"
    cmd = [sys.executable, "-m", "conformance", "run", "-q", "--json", str(result_file), *suite_args]
    start = time.perf_counter()
    children = children if children is not None else Children()
    with children.lock:  # checked and registered together: stop_children cannot miss a run starting now
        if children.stopping.is_set():
            raise Stopping(f"campaign stopping: {directory.name} not started")
        proc = subprocess.Popen(cmd, cwd=repo, env=hook_env(directory, extra_env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        children.procs.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = "survived" if proc.returncode == 0 else "killed"
        code = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        status, code = "timeout", None
    finally:
        with children.lock:
            children.procs.discard(proc)
        if proc.poll() is None:  # interrupted while waiting for it (the campaign is stopping)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
    seconds = time.perf_counter() - start
    killed_by, cases, details = [], 0, {}
    if result_file.exists():
        try:
            document = json.loads(result_file.read_text(encoding="utf-8"))
            cases = len(document["results"])
            for r in document["results"]:
                if r["status"] not in ("pass", "skip", "unsupported", "xfail"):
                    killed_by.append(r["id"])
                    details[r["id"]] = f"{r['status']}: {r.get('detail', '')}"[:300]
        except (ValueError, KeyError):
            pass
    tail = "\n".join((err or out or "").strip().splitlines()[-3:])
    return RunResult(status, code, seconds, killed_by, cases, tail, details)


def check_hook(directory: Path, source: str, target_module: str = DEFAULT_TARGET.module) -> tuple[bool, str]:
    module = write_hook(directory, source, "lr_scheduler_hookcheck", target_module)
    code = (f"import torch, {target_module} as m, sys; "
            f"print(m.__file__); print({target_module} is m); print(torch.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], env=hook_env(directory), capture_output=True, text=True,
                          timeout=120)
    lines = proc.stdout.split("\n")
    ok = proc.returncode == 0 and lines[0] == str(module) and lines[1] == "True"
    return ok, proc.stdout.strip() if ok else (proc.stdout + proc.stderr).strip()[-2000:]


# --- selection, campaign, reports --------------------------------------------------------------------


def target_file(target_module: str = DEFAULT_TARGET.module) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(target_module)
    return Path(spec.origin)


def load_case_schedulers(repo: Path) -> dict[str, set[str]]:
    """scheduler name -> ids of the cases that use it anywhere in their tree (read with the suite's own loader)."""
    sys.path.insert(0, str(repo))
    try:
        from conformance import cases as cases_mod
    finally:
        sys.path.pop(0)
    uses: dict[str, set[str]] = collections.defaultdict(set)
    for case in cases_mod.load_cases():
        for name in case.schedulers:
            uses[name].add(case.id)
    return uses


def select(mutants: list[Mutant], args) -> list[Mutant]:
    chosen = mutants
    if args.mutant:
        wanted = {i for spec in args.mutant for i in spec.split(",")}
        chosen = [m for m in chosen if m.id in wanted]
    if args.only:
        wanted = {n for spec in args.only for n in spec.split(",")}
        chosen = [m for m in chosen if m.scope in wanted]
    if args.operator:
        wanted = {n for spec in args.operator for n in spec.split(",")}
        chosen = [m for m in chosen if m.operator in wanted]
    if args.sample is not None and args.sample < len(chosen):
        # a random subset of N of the selection, plus (union) every mutant inside the --plus-methods methods
        plus = set(args.plus_methods.split(",")) if args.plus_methods else set()
        keep = {m.id for m in random.Random(args.seed).sample(chosen, args.sample)}
        keep |= {m.id for m in chosen if m.method in plus}
        chosen = [m for m in chosen if m.id in keep]
    if args.limit is not None:
        chosen = chosen[:args.limit]
    return chosen


def _probe_label(m: Mutant, probe: dict | None) -> str:
    if probe is None:
        return "unknown"
    if m.probe is None:
        return "n/a"
    if m.id not in probe["reached"]:
        return "not reached"
    if m.probe[0] in ("stmt", "body"):
        return "executed"
    if m.probe[0] == "state":
        return "saved"  # the attribute was in a state_dict() of this scheduler during a resume case
    return "infected" if m.id in probe["infected"] else "reached"


PROBE_HINTS = {
    "not reached": "no case executes this code: add a case that reaches it (real gap, unless dead code)",
    "reached": "executed, but no case made original and mutant differ (boundary/value never hit): "
               "usually a real gap",
    "infected": "the mutant computed a different value, yet every trace matched: likely equivalent, "
                "or an effect the harness cannot observe",
    "executed": "the deleted code ran, yet every trace matched: likely equivalent or unobserved effect",
    "saved": "the attribute was saved in a resume case, yet dropping it changed nothing: likely equivalent "
             "(a fresh object rebuilds the same value)",
    "n/a": "not probed (default argument or state attribute never saved): judge by reading",
    "unknown": "probe run not available",
}


def campaign(args) -> int:
    repo = Path(args.repo).resolve()
    spec = TARGETS[args.module]
    target = Path(args.target) if args.target else target_file(spec.module)
    text = target.read_text(encoding="utf-8")
    mutants = generate(text, spec.id_prefix)
    chosen = select(mutants, args)
    if args.list:
        for m in chosen:
            print(f"{m.id}  {m.where():45} L{m.line:<5} {m.operator:8} {m.description}")
            print(f"        - {m.original.strip()}" if "\n" not in m.original else
                  textwrap.indent(m.original, "        - "))
            print(f"        + {m.mutated.strip()}" if "\n" not in m.mutated else
                  textwrap.indent(m.mutated, "        + "))
        print(f"{len(chosen)} of {len(mutants)} mutants", file=sys.stderr)
        return 0
    if not chosen:
        print("mutation_test: no mutant selected", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="lrc-mutants-", dir=args.workdir))
    children = Children()
    try:
        return _campaign_in(work, children, args, repo, spec, target, text, mutants, chosen)
    finally:
        # also when stopped (KeyboardInterrupt, Interrupted from SIGTERM) or failed: kill the running suites,
        # then remove the directory they were writing into; a second signal does not cut the cleanup short
        with _signals_ignored():
            stop_children(children)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)


class _signals_ignored:
    """SIGINT and SIGTERM ignored inside the block (main thread only; elsewhere a no-op)."""

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.saved[signum] = signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc):
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        return False


def _campaign_in(work: Path, children: Children, args, repo: Path, spec, target: Path, text: str,
                 mutants: list[Mutant], chosen: list[Mutant]) -> int:
    module = Module(text)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else (lambda *a: None)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    try:
        import torch  # noqa: F401 - only for its version

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    uses = load_case_schedulers(repo)
    # the checks and the probe run the cases that can reach the module: all of them, or its scheduler's
    scope_args = ["--scheduler", spec.scheduler] if spec.scheduler else []
    all_cases = sorted(uses[spec.scheduler] if spec.scheduler else {c for ids in uses.values() for c in ids})
    scheduler_classes = set(scopes(module.tree)[0])
    # the sentinel makes the module's own constructors raise; a case of a scheduler defined elsewhere (SWALR,
    # for lr_scheduler.py) that errors in its own constructor before reaching the base class cannot notice it
    must_fail = {c for name in scheduler_classes for c in uses.get(name, ())} & set(all_cases)
    checks: dict[str, Any] = {}

    def run(name: str, source: str, timeout: float, suite_args: list[str], extra_env: dict | None = None):
        return run_suite(work / name, source, timeout, suite_args, repo, extra_env, target_module=spec.module,
                         children=children)

    ok, detail = check_hook(work / "hook", module.baseline(), spec.module)
    checks["hook"] = {"ok": ok, "detail": detail}
    log(f"hook check: {'ok' if ok else 'FAILED'} ({detail.splitlines()[0] if detail else ''})")
    if not ok:
        log(detail)
        return 3
    base = run("baseline", module.baseline(), args.timeout, scope_args)
    checks["baseline"] = {"ok": base.status == "survived", "seconds": round(base.seconds, 2), "cases": base.cases,
                          "failing": base.killed_by, "detail": base.tail}
    log(f"baseline (unmutated, via the hook): {base.cases} cases, "
        f"{'pass' if base.status == 'survived' else 'FAILED ' + str(base.killed_by[:5]) + ' ' + base.tail}"
        f" in {base.seconds:.1f}s")
    if base.status != "survived":
        log("mutation_test: the suite does not pass on the unmutated module; fix that first")
        return 3
    sentinel = run("sentinel", module.sentinel_source(), args.timeout, scope_args)
    unnoticed = sorted(must_fail - set(sentinel.killed_by))
    sentinel_ok = (sentinel.status == "killed" and must_fail and not unnoticed
                   and all(SENTINEL_MESSAGE in d for d in sentinel.details.values()))
    checks["sentinel"] = {"ok": sentinel_ok, "killed_cases": len(sentinel.killed_by), "cases": sentinel.cases,
                          "must_fail": len(must_fail), "passed": unnoticed}
    log(f"sentinel: {'killed, ' if sentinel.status == 'killed' else 'NOT KILLED, '}"
        f"{len(sentinel.killed_by)}/{sentinel.cases} cases failed ({len(must_fail)} must: those using "
        f"a scheduler class of {spec.module})")
    if not sentinel_ok:
        log(f"mutation_test: the sentinel mutant did not fail every case it must (passed: {unnoticed[:5]}): "
            "the hook is not effective")
        return 3

    probe = None
    if not args.no_probe:
        probe_file = work / "probe.json"
        inst = run("probe", instrumented_source(text, mutants), args.timeout * 3, scope_args,
                   {"LRC_PROBE_OUT": str(probe_file)})
        if inst.status == "survived" and probe_file.exists():
            probe = json.loads(probe_file.read_text())
            probe = {"reached": set(probe["reached"]), "infected": set(probe["infected"])}
            checks["probe"] = {"ok": True, "seconds": round(inst.seconds, 2)}
            log(f"probe run: {len(probe['reached'])} of {len(mutants)} mutants reached, "
                f"{len(probe['infected'])} infected ({inst.seconds:.1f}s)")
        else:
            checks["probe"] = {"ok": False, "failing": inst.killed_by, "detail": inst.tail}
            log(f"probe run failed ({inst.status}: {inst.killed_by[:5]} {inst.tail}); survivors are not labelled")

    records: dict[str, dict] = {}
    sources: dict[str, str] = {}
    seen: dict[str, str] = {}
    jobs = []
    for m in chosen:
        record = m.public()
        record["probe"] = _probe_label(m, probe)
        records[m.id] = record
        source = module.mutant_source(m)
        digest = hashlib.sha256(source.encode()).hexdigest()
        if digest in seen:
            record.update(status="duplicate", duplicate_of=seen[digest])
            continue
        seen[digest] = m.id
        suite_args: list[str] = []
        if not args.no_filter and m.scope in scheduler_classes and m.scope not in ("LRScheduler", "_LRScheduler"):
            if not uses.get(m.scope):
                record.update(status="survived", exit_code=None, seconds=0.0, killed_by=[],
                              note=f"no case uses {m.scope}: not run")
                continue
            suite_args = ["--scheduler", m.scope]
        sources[m.id] = source
        jobs.append((m, suite_args))

    total = len(jobs)
    done = 0
    lock = threading.Lock()

    def one(job):
        nonlocal done
        m, suite_args = job
        result = run(m.id, sources.pop(m.id), args.timeout, suite_args)
        if not args.keep:
            shutil.rmtree(work / m.id, ignore_errors=True)
        rec = records[m.id]
        rec.update(status=result.status, exit_code=result.exit_code, seconds=round(result.seconds, 2),
                   killed_by=result.killed_by[:20], killed_by_count=len(result.killed_by),
                   cases_run=result.cases)
        if result.killed_by:
            rec["first_kill"] = result.details[result.killed_by[0]]
        if result.status == "killed" and not result.killed_by:
            rec["detail"] = result.tail  # e.g. the import itself failed
        with lock:
            done += 1
            if args.verbose or sys.stderr.isatty():
                log(f"[{done}/{total}] {m.id} {result.status:8} {m.where()} L{m.line} {m.operator} {m.description}")

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        list(pool.map(one, jobs))
    except BaseException:
        stop_children(children)  # before waiting for the workers: each is waiting for its suite run
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    document = summarize(records, mutants, chosen, args, target, text, torch_version, checks, all_cases,
                         started, time.perf_counter() - t0, repo)
    if args.keep:
        log(f"kept mutants and hook directories in {work}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    print(render(document))
    return 0


def _rate(killed: int, survived: int) -> float | None:
    return round(killed / (killed + survived), 4) if killed + survived else None


def summarize(records, mutants, chosen, args, target, text, torch_version, checks, all_cases, started, seconds,
              repo) -> dict:
    rows = [records[m.id] for m in chosen]
    counted = [r for r in rows if r["status"] != "duplicate"]
    killed = sum(r["status"] in ("killed", "timeout") for r in counted)
    survived = sum(r["status"] == "survived" for r in counted)

    def group(key):
        out: dict[str, dict] = {}
        for r in counted:
            g = out.setdefault(r[key], {"mutants": 0, "killed": 0, "survived": 0})
            g["mutants"] += 1
            g["killed"] += r["status"] in ("killed", "timeout")
            g["survived"] += r["status"] == "survived"
        for g in out.values():
            g["kill_rate"] = _rate(g["killed"], g["survived"])
        return out

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "golden"], cwd=repo, capture_output=True,
                                    text=True).stdout.strip())
    except OSError:
        head, dirty = None, None
    return {
        "tool": "lr-conformance tools/mutation_test.py",
        "schema": "lr-conformance/mutation/1",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "torch": torch_version,
        "module": TARGETS[args.module].module,
        "target": str(target),
        "target_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "repo": {"path": str(repo), "head": head, "golden_uncommitted_changes": dirty},
        "cases": len(all_cases),
        "options": {"jobs": args.jobs, "timeout": args.timeout, "only": args.only, "operator": args.operator,
                    "sample": args.sample, "seed": args.seed, "plus_methods": args.plus_methods,
                    "limit": args.limit, "mutant": args.mutant, "filter_by_scheduler": not args.no_filter},
        "operators": OPERATORS,
        "probe_labels": PROBE_HINTS,
        "checks": checks,
        "counts": {
            "generated": len(mutants), "selected": len(rows), "duplicates": len(rows) - len(counted),
            "run": sum(r.get("exit_code") is not None or r["status"] == "timeout" for r in counted),
            "killed": killed, "survived": survived,
            "timeout": sum(r["status"] == "timeout" for r in counted),
            "kill_rate": _rate(killed, survived),
        },
        "by_scope": group("scope"),
        "by_operator": group("operator"),
        "mutants": rows,
    }


def _short(text: str, limit: int = 6) -> list[str]:
    lines = text.splitlines()
    return lines if len(lines) <= limit else lines[:limit - 1] + [f"... ({len(lines) - limit + 1} more lines)"]


def render(document: dict) -> str:
    c = document["counts"]
    out = []
    rate = "n/a" if c["kill_rate"] is None else f"{c['kill_rate']:.1%}"
    out.append(f"mutation test of {document['target']} (torch {document['torch']}) against {document['cases']} cases")
    out.append(f"{c['generated']} mutants generated, {c['selected']} selected ({c['duplicates']} duplicates), "
               f"{c['killed']} killed ({c['timeout']} by timeout), {c['survived']} survived: kill rate {rate}")
    out.append("")
    out.append(f"{'scope':32} {'mutants':>7} {'killed':>7} {'survived':>8} {'rate':>7}")
    for scope, g in sorted(document["by_scope"].items(), key=lambda kv: kv[0]):
        r = "n/a" if g["kill_rate"] is None else f"{g['kill_rate']:.0%}"
        out.append(f"{scope:32} {g['mutants']:7} {g['killed']:7} {g['survived']:8} {r:>7}")
    out.append("")
    out.append(f"{'operator':32} {'mutants':>7} {'killed':>7} {'survived':>8} {'rate':>7}")
    for op, g in sorted(document["by_operator"].items()):
        r = "n/a" if g["kill_rate"] is None else f"{g['kill_rate']:.0%}"
        out.append(f"{op:32} {g['mutants']:7} {g['killed']:7} {g['survived']:8} {r:>7}")
    survivors = [r for r in document["mutants"] if r["status"] == "survived"]
    if survivors:
        out.append("")
        out.append(f"SURVIVORS ({len(survivors)}), by scope; lines are in {document['target']}")
        by_scope = collections.defaultdict(list)
        for r in survivors:
            by_scope[r["scope"]].append(r)
        for scope in sorted(by_scope):
            out.append("")
            out.append(f"== {scope} ({len(by_scope[scope])})")
            for r in by_scope[scope]:
                where = f"{r['scope']}.{r['method']}" if r["method"] else r["scope"]
                out.append(f"{r['id']}  {where}  line {r['line']}  [{r['operator']}] {r['description']}"
                           f"  -- probe: {r['probe']}" + (f" ({r['note']})" if r.get("note") else ""))
                for line in _short(r["original"]):
                    out.append(f"    - {line}")
                for line in _short(r["mutated"]):
                    out.append(f"    + {line}")
        out.append("")
        out.append("probe labels:")
        for label, hint in document["probe_labels"].items():
            out.append(f"  {label:12} {hint}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mutation_test.py", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="operators:\n" + "\n".join(f"  {k:8} {v}" for k, v in OPERATORS.items()))
    parser.add_argument("-j", "--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds before a suite run counts as killed by timeout (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--limit", type=int, help="run only the first N selected mutants")
    parser.add_argument("--sample", type=int, help="run a random subset of N mutants (with --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--plus-methods", metavar="M1,M2",
                        help="with --sample: also run every mutant inside these methods, e.g. "
                             "get_lr,_get_closed_form_lr,step")
    parser.add_argument("--only", action="append", default=[], metavar="CLASSNAME",
                        help="only mutants in this class or helper (repeatable, or comma-separated)")
    parser.add_argument("--operator", action="append", default=[], metavar="OP",
                        help=f"only mutants of this operator ({', '.join(OPERATORS)})")
    parser.add_argument("--mutant", action="append", default=[], metavar="ID",
                        help="only these mutant ids (e.g. m0042; repeatable) - to re-check a survivor after "
                             "adding a case")
    parser.add_argument("--list", action="store_true", help="print the selected mutants without running them")
    parser.add_argument("--json", metavar="OUT.json", help="write the full results here")
    parser.add_argument("--no-filter", action="store_true",
                        help="run every case for every mutant (default: only the cases using the mutated scheduler)")
    parser.add_argument("--no-probe", action="store_true", help="skip the instrumented reach/infection run")
    parser.add_argument("--module", choices=sorted(TARGETS), default="lr_scheduler",
                        help="which torch module to mutate: lr_scheduler (default) or swa_utils (SWALR's class "
                             "only, graded by the SWALR cases; mutant ids s0001...)")
    parser.add_argument("--target", help="the file of --module to mutate (default: the installed torch's)")
    parser.add_argument("--repo", default=str(ROOT), help="the lr-conformance checkout whose suite runs")
    parser.add_argument("--workdir", help="where temporary mutant directories go (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the mutant files and hook directories")
    parser.add_argument("-v", "--verbose", action="store_true", help="a progress line per mutant")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        return campaign(args)
    except (KeyboardInterrupt, Interrupted) as stop:
        signum = stop.signum if isinstance(stop, Interrupted) else signal.SIGINT
        print(f"mutation_test: stopped by {signal.Signals(signum).name}"
              f"{'' if args.keep else '; its temporary directory is removed'}", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


if __name__ == "__main__":
    sys.exit(main())
