"""A copy-paste reproduction of a case: standalone torch code (no lr-conformance import) that builds the
case's optimizer and scheduler exactly as the reference adapter does and prints, at every step of the
case's step protocol, what the optimizer uses:

    0 [0.1]
    1 [0.1]
    ...

one line per loop iteration: the step, the lr of each param group (and, where a scheduler drives it, the
momentum or Adam beta1 of each group). Run it on the torch release whose golden you compare with; it is
what a bug report to torch or to another implementation should contain.

The mapping from case to code mirrors conformance/adapters/torch_reference.py: one 1-element parameter per
group, the group table's keys as group keys, the first group's lr as the optimizer's default, children built
before their composite, vocabulary callables as lambdas with their exact expression, checkpoints through
torch.save / torch.load.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

from conformance import vocabulary
from conformance.model import CALLABLE_KWARGS, Case, SchedulerSpec

INDENT = "    "


def torch_snippet(case: Case) -> str:
    """Python source text reproducing `case` with torch (see the module docstring)."""
    lines = [f"# lr-conformance case {case.id}: {case.why}"]
    if case.source:
        lines.append(f"# defined in {case.source}")
    resume = case.resume_at is not None
    lines += ["import io", "", "import torch"] if resume else ["import torch"]
    lines += ["from torch.optim import lr_scheduler", ""]
    for source in _callable_classes(case.scheduler):
        lines += source.rstrip("\n").splitlines() + ["", ""]

    build = _optimizer_lines(case) + _scheduler_lines(case.scheduler, [0], "scheduler")
    if resume:
        lines.append("def build():")
        lines += [INDENT + line for line in build]
        lines += [INDENT + "return optimizer, scheduler", "", "", "optimizer, scheduler = build()"]
    else:
        lines += build
    if case.metrics is not None:
        lines.append(f"metrics = {_literal(list(case.metrics))}")
    if case.epochs is not None:
        lines.append(f"epochs = {_literal(list(case.epochs))}")

    args = (["metrics[step]"] if case.metrics is not None else []) + (["epochs[step]"] if case.epochs is not None else [])
    arg = ", ".join(args)
    observe = 'print(step, [float(g["lr"]) for g in optimizer.param_groups]'
    if case.drives_momentum:
        observe += ', [float(g["betas"][0] if "betas" in g else g["momentum"]) for g in optimizer.param_groups]'
    observe += ")"
    body = []
    if resume:
        body += [
            f"if step == {case.resume_at}:  # checkpoint, then continue with fresh objects loaded from it",
            INDENT + "buffer = io.BytesIO()",
            INDENT + 'torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)',
            INDENT + "buffer.seek(0)",
            INDENT + "state = torch.load(buffer, weights_only=False)",
            INDENT + "optimizer, scheduler = build()",
            INDENT + 'optimizer.load_state_dict(state["optimizer"])',
            INDENT + 'scheduler.load_state_dict(state["scheduler"])',
        ]
    if case.protocol == "scheduler-first":
        body += [f"scheduler.step({arg})", observe, "optimizer.step()"]
    else:
        body += [observe, "optimizer.step()", f"scheduler.step({arg})"]
    lines.append(f"for step in range({case.steps}):")
    lines += [INDENT + line for line in body]
    return "\n".join(lines) + "\n"


def _optimizer_lines(case: Case) -> list[str]:
    lines = ["groups = ["]
    for spec in case.groups:
        items = ['"params": [torch.nn.Parameter(torch.zeros(1))]']
        for key, value in spec.items():
            if key in ("lr", "initial_lr") and case.tensor_lr:
                items.append(f'"{key}": torch.tensor({_literal(value)})')
            else:
                items.append(f'"{key}": {_literal(value, tuples=True)}')
        lines.append(INDENT + "{" + ", ".join(items) + "},")
    lines.append("]")
    kwargs = dict(case.optimizer.kwargs)
    args = ["groups"]
    if "lr" not in kwargs:
        args.append('lr=groups[0]["lr"]' if case.tensor_lr else f"lr={_literal(case.groups[0]['lr'])}")
    args += [f"{key}={_literal(value, tuples=True)}" for key, value in kwargs.items()]
    lines.append(f"optimizer = torch.optim.{case.optimizer.name}({', '.join(args)})")
    return lines


def _scheduler_lines(spec: SchedulerSpec, counter: list[int], name: str) -> list[str]:
    """Lines assigning `name`; children first, as s0, s1, ... in construction order."""
    lines: list[str] = []
    child_names = []
    for child in spec.children:
        child_name = f"s{counter[0]}"
        counter[0] += 1
        lines += _scheduler_lines(child, counter, child_name)
        child_names.append(child_name)
    kwargs = dict(spec.kwargs)
    args = []
    if spec.name == "ChainedScheduler":
        args.append(f"[{', '.join(child_names)}]")
        if kwargs.pop("optimizer", False):
            args.append("optimizer=optimizer")
    else:
        args.append("optimizer")
        if child_names:
            args.append(f"schedulers=[{', '.join(child_names)}]")
    for key, value in kwargs.items():
        args.append(f"{key}={_callable(value) if key in CALLABLE_KWARGS else _literal(value)}")
    lines.append(f"{name} = lr_scheduler.{spec.name}({', '.join(args)})")
    return lines


def _callable(spec) -> str:
    """A vocabulary spec as a lambda with its exact expression, its parameters bound as defaults."""
    if isinstance(spec, list):
        return "[" + ", ".join(_callable(item) for item in spec) + "]"
    entry = vocabulary.ENTRIES[spec["fn"]]
    params = {**(entry.defaults or {}), **{k: v for k, v in spec.items() if k != "fn"}}
    if isinstance(entry.make, type):  # a callable object: its class is defined at the top of the snippet
        return f"{entry.make.__name__}({', '.join(f'{k}={_literal(params[k])}' for k in entry.params if k in params)})"
    bound = "".join(f", {key}={_literal(params[key])}" for key in entry.params if key in params)
    return f"lambda x{bound}: {entry.expression}"


def _callable_classes(spec: SchedulerSpec) -> list[str]:
    """Source of the callable-object classes the case's scheduler tree uses, once each."""
    sources: list[str] = []
    for node in spec.walk():
        for key in CALLABLE_KWARGS:
            value = node.kwargs.get(key)
            for item in value if isinstance(value, list) else [value] if value else []:
                make = vocabulary.ENTRIES[item["fn"]].make
                if isinstance(make, type) and inspect.getsource(make) not in sources:
                    sources.append(inspect.getsource(make))
    return sources


def _literal(value, tuples: bool = False) -> str:
    """Python source for a case value; lists become tuples where torch expects tuples (betas)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value!r}")'
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v, tuples) for v in value)
        if tuples:
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v, tuples)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
