"""A copy-paste reproduction of a case: standalone torch code (no lr-conformance import) that builds the
case's optimizer and scheduler exactly as the reference adapter does and prints, at every step of the
case's step protocol, what the optimizer uses:

    0 [0.1]
    1 [0.1]
    ...

one line per loop iteration: the step, the lr of each param group (and, where a scheduler drives it, the
momentum or Adam beta1 of each group). What a `call` intervention returns is printed on an indented line of its
own (`    get_lr() = [0.05]`); the other interventions (spec 4.5) are written out as the code a user's loop has. Run it on the torch release whose golden you compare with; it is
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
from conformance.cases import reference_module
from conformance.model import (
    CALLABLE_KWARGS,
    GROUP_FLAGS,
    LIST_ATTRIBUTES,
    SUBCLASS_KWARG,
    TENSOR_KEY,
    USER_SUBCLASS,
    Case,
    SchedulerSpec,
    holds_tensor_argument,
    is_tensor_argument,
)

INDENT = "    "


def torch_snippet(case: Case) -> str:
    """Python source text reproducing `case` with torch (see the module docstring)."""
    lines = [f"# lr-conformance case {case.id}: {case.why}"]
    if case.source:
        lines.append(f"# defined in {case.source}")
    resume = case.resume_at is not None or any(a.do == "resume" for a in case.interventions)
    wraps = any(a.do == "wrap-optimizer-step" and a.keep_attributes for a in case.interventions)
    imports = (["import functools"] if wraps else []) + (["import io"] if resume else [])
    lines += [*imports, "", "import torch"] if imports else ["import torch"]
    modules = sorted({"lr_scheduler"} | {_module(name) for name in case.schedulers})
    lines += [f"from torch.optim import {', '.join(modules)}", ""]
    sources = _callable_classes(case.scheduler)
    for action in case.interventions:
        if action.scheduler is not None:
            sources += [source for source in _callable_classes(action.scheduler) if source not in sources]
    for source in sources:
        lines += source.rstrip("\n").splitlines() + ["", ""]

    build = _build_lines(case, case.scheduler, resume)
    if resume:
        lines.append("def build():")
        lines += [INDENT + line for line in build]
        lines += [INDENT + "return optimizer, scheduler", "", ""]
        for index, action in enumerate(_rebuilt(case)):  # fresh objects whose scheduler has other arguments
            lines.append(f"def {_rebuild_name(index)}():")
            lines += [INDENT + line for line in _build_lines(case, action.scheduler, resume)]
            lines += [INDENT + "return optimizer, scheduler", "", ""]
        lines.append("optimizer, scheduler = build()")
    else:
        lines += build
    if case.metrics is not None:
        lines.append(f"metrics = {_literal(list(case.metrics))}")
    if case.epochs is not None:
        lines.append(f"epochs = {_literal(list(case.epochs))}")

    args = (["metrics[step]"] if case.metrics is not None else []) + (["epochs[step]"] if case.epochs is not None else [])
    arg = ", ".join(args)
    observe = 'print(step, [float(g["lr"]) for g in optimizer.param_groups]'
    if case.observes_momentum:
        observe += ', [float(g["betas"][0] if "betas" in g else g["momentum"]) for g in optimizer.param_groups]'
    observe += ")"
    body = []
    if case.resume_at is not None:
        body += [f"if step == {case.resume_at}:  # checkpoint, then continue with fresh objects loaded from it"]
        body += [INDENT + line for line in _resume_lines(("optimizer", "scheduler"))]
    added = [a for a in case.interventions if a.do == "add-scheduler"]
    # a `from` or a `replace` (spec 4.5) needs each added scheduler's first iteration and whether it replaces
    # the case's: the plain (first, scheduler) pairs otherwise, as a loop of two schedulers is usually written
    switching = any(a.first_stepped > a.at or a.replace for a in added)
    if switching:
        lines.append("added = []  # (stepped first, stepped from, replaces scheduler, scheduler) of the schedulers "
                     "added")
    elif added:
        lines.append("added = []  # (stepped first, scheduler) of the schedulers added mid-run")
    counter = [len(list(case.scheduler.walk())) - 1]
    for step in sorted({a.at for a in case.interventions}):
        block = []
        for action in case.actions_at(step):
            block += _intervention_lines(case, action, counter, switching)
        if block:
            body += [f"if step == {step}:"] + [INDENT + line for line in block]
    skipped = sorted(a.at for a in case.interventions if a.do == "skip-optimizer-step")
    counts = {a.at: a.count for a in case.interventions if a.do == "scheduler-steps"}
    optimizer_step = [f"if step not in {_literal(set(skipped))}:  # the optimizer step skipped (AMP, accumulation)",
                      INDENT + "optimizer.step()"] if skipped else ["optimizer.step()"]
    scheduler_step = [f"scheduler.step({arg})"]
    epoch_at = {a.at: a.epoch for a in case.interventions if a.do == "scheduler-steps" and a.epoch is not None}
    if epoch_at:
        lines.append(f"epoch_at = {_literal(epoch_at)}  # step(epoch) at these iterations, step() at the others")
        scheduler_step = ["if step in epoch_at:", INDENT + f"scheduler.step({', '.join([*args, 'epoch_at[step]'])})",
                          "else:", INDENT + scheduler_step[0]]
    if switching:
        scheduler_step = (["for first, start, _, other in added:", INDENT + "if first and step >= start:",
                           2 * INDENT + "other.step()"]
                          + ["if not any(replaces and step >= start for _, start, replaces, _ in added):"]
                          + [INDENT + line for line in scheduler_step]
                          + ["for first, start, _, other in added:", INDENT + "if not first and step >= start:",
                             2 * INDENT + "other.step()"])
    elif added:
        scheduler_step = (["for first, other in added:", INDENT + "if first:", 2 * INDENT + "other.step()"]
                          + scheduler_step
                          + ["for first, other in added:", INDENT + "if not first:", 2 * INDENT + "other.step()"])
    if counts:
        lines.append(f"scheduler_steps = {_literal(counts)}  # scheduler steps per iteration where not 1")
        scheduler_step = ["for _ in range(scheduler_steps.get(step, 1)):"] + [INDENT + line for line in scheduler_step]
    if case.protocol == "scheduler-first":
        body += [*scheduler_step, observe, *optimizer_step]
    else:
        body += [observe, *optimizer_step, *scheduler_step]
    lines.append(f"for step in range({case.steps}):")
    lines += [INDENT + line for line in body]
    return "\n".join(lines) + "\n"


def _rebuilt(case: Case) -> list:
    """The resume actions whose fresh scheduler is built with other arguments (spec 4.5), in case order."""
    return [action for action in case.interventions if action.do == "resume" and action.scheduler is not None]


def _rebuild_name(index: int) -> str:
    return f"build_with_other_arguments{index}"


def _resume_lines(load, build: str = "build", weights_only: bool | None = None) -> list[str]:
    """A checkpoint through torch.save / torch.load (weights_only=False unless the resume states it), then
    fresh objects from `build` loading `load`."""
    lines = [
        "buffer = io.BytesIO()",
        'torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)',
        "buffer.seek(0)",
        f"state = torch.load(buffer, weights_only={bool(weights_only)!r})",
        f"optimizer, scheduler = {build}()",
    ]
    return lines + [f'{name}.load_state_dict(state["{name}"])' for name in load]


def _lr_value(case: Case, key: str, value, group: int) -> str:
    if key in ("lr", "initial_lr") and case.tensor_group(group):
        return f"torch.tensor({_literal(value)})"
    return _literal(value, tuples=True)


def _intervention_lines(case: Case, action, counter: list[int], switching: bool = False) -> list[str]:
    """The code of one intervention (spec 4.5), as a user's loop writes it."""
    if action.do == "set":
        value = _lr_value(case, action.key, action.value, action.group)
        return [f'optimizer.param_groups[{action.group}]["{action.key}"] = {value}']
    if action.do == "add-param-group":
        items = ['"params": [torch.nn.Parameter(torch.zeros(1))]']
        new = case.groups_at(action.at) - 1  # this group's index: the groups added before it counted too
        items += [f'"{key}": {_lr_value(case, key, value, new)}' for key, value in action.options.items()]
        return ["optimizer.add_param_group({" + ", ".join(items) + "})"]
    if action.do == "wrap-optimizer-step":
        lines = ["original_step = optimizer.step  # replaced after the scheduler was built (accelerate, a trainer)",
                 "def wrapped_step(*args, _original=original_step, **kwargs):",
                 INDENT + "return _original(*args, **kwargs)"]
        if action.keep_attributes:
            return lines + ["optimizer.step = functools.wraps(original_step)(wrapped_step)"]
        return lines + ["optimizer.step = wrapped_step"]
    if action.do == "add-scheduler":
        counter[0] += 1
        name = f"added{counter[0]}"
        if switching:
            entry = f"{action.first!r}, {action.first_stepped}, {action.replace!r}, {name}"
            return _scheduler_lines(action.scheduler, counter, name) + [f"added.append(({entry}))"]
        return _scheduler_lines(action.scheduler, counter, name) + [f"added.append(({action.first!r}, {name}))"]
    if action.do == "call":
        return [f'print("    {action.method}() =", [float(x) for x in scheduler.{action.method}()])']
    if action.do == "read-scheduler":
        read = f"scheduler.{action.attribute}"  # a list attribute may hold tensors (tensor_lr): print numbers
        shown = f"[float(x) for x in {read}]" if action.attribute in LIST_ATTRIBUTES else read
        return [f'print("    {read} =", {shown})']
    if action.do == "set-scheduler":
        return [f"scheduler.{action.attribute} = {_literal(action.value)}"]
    if action.do == "change-argument":  # the user's own tensor, in place (spec 4.5)
        tensor = f"user[{_literal(action.argument)}]" + (f"[{action.group}]" if action.group is not None else "")
        change = f"mul_({_literal(action.multiply)})" if action.multiply is not None else f"fill_({_literal(action.value)})"
        return [f"{tensor}.{change}"]
    if action.do == "resume":
        if action.scheduler is not None:
            index = next(k for k, other in enumerate(_rebuilt(case)) if other is action)
            return ["# checkpoint, then fresh objects, the scheduler built with other arguments, loading "
                    + (", ".join(action.load) or "nothing")] + _resume_lines(action.load, _rebuild_name(index),
                                                                              action.weights_only)
        return ["# checkpoint, then fresh objects loading only " + (", ".join(action.load) or "nothing")]\
            + _resume_lines(action.load, weights_only=action.weights_only)
    return []  # skip-optimizer-step and scheduler-steps change the loop itself


def _optimizer_lines(case: Case, name: str = "optimizer", groups: str = "groups") -> list[str]:
    lines = [f"{groups} = ["]
    for index, spec in enumerate(case.groups):
        items = ['"params": [torch.nn.Parameter(torch.zeros(1))]']
        items += [f'"{key}": {_lr_value(case, key, value, index)}' for key, value in spec.items()
                  if key not in GROUP_FLAGS]
        lines.append(INDENT + "{" + ", ".join(items) + "},")
    lines.append("]")
    kwargs = dict(case.optimizer.kwargs)
    args = [groups]
    if "lr" not in kwargs:
        args.append(f'lr={groups}[0]["lr"]' if case.tensor_group(0) else f"lr={_literal(case.groups[0]['lr'])}")
    args += [f"{key}={_literal(value, tuples=True)}" for key, value in kwargs.items()]
    lines.append(f"{name} = torch.optim.{case.optimizer.name}({', '.join(args)})")
    return lines


def _build_lines(case: Case, spec: SchedulerSpec, resume: bool) -> list[str]:
    """The optimizer(s) of `case` and `spec` built on them as `scheduler` (the case's, or a resume's fresh one):
    the second optimizer where a child is on it (spec 2.5), the user's tensors first where the case changes
    them (`_handle_lines`)."""
    changes = any(a.do == "change-argument" for a in case.interventions)
    second = any(node.on == "second-optimizer" for node in spec.walk())
    return (_optimizer_lines(case) + (_optimizer_lines(case, "optimizer2", "groups2") if second else [])
            + _handle_lines(case, spec, changes, resume) + _scheduler_lines(spec, [0], "scheduler", changes))


def _handle_lines(case: Case, spec: SchedulerSpec, changes: bool, resume: bool) -> list[str]:
    """For a case with change-argument: `user`, the tensors the user passed (the groups' lrs, the scheduler's
    tensor arguments), kept by name as a user keeps variables - global, so that fresh objects built in build()
    replace them as a resume does (spec 4.5). Nothing for any other case."""
    if not changes:
        return []
    tensors = {key: value for key, value in spec.kwargs.items() if holds_tensor_argument(key, value)}
    items = [f'"lr": [group["lr"] for group in groups]'] + [f"{_literal(k)}: {_literal(v)}" for k, v in tensors.items()]
    lines = ["global user"] if resume else []
    return lines + ["user = {" + ", ".join(items) + "}  # the tensors the user passed, changed in place below"]


def _scheduler_lines(spec: SchedulerSpec, counter: list[int], name: str, handles: bool = False) -> list[str]:
    """Lines assigning `name`; children first, as s0, s1, ... in construction order. With `handles`, the
    top scheduler's tensor arguments are the user's, from `user` (_handle_lines)."""
    lines: list[str] = []
    child_names = []
    for child in spec.children:
        if child is None:  # a `{ none = true }` child: None in the list (spec 2.5)
            child_names.append("None")
            continue
        child_name = f"s{counter[0]}"
        counter[0] += 1
        lines += _scheduler_lines(child, counter, child_name)
        child_names.append(child_name)
    kwargs = dict(spec.kwargs)
    args = []
    optimizer = {"optimizer": "optimizer", "second-optimizer": "optimizer2", "none": "None"}[spec.on]
    if spec.name == "ChainedScheduler":
        args.append(f"[{', '.join(child_names)}]")
        if kwargs.pop("optimizer", False):
            args.append(f"optimizer={optimizer}")
    else:
        args.append(optimizer)
        if child_names:
            args.append(f"schedulers=[{', '.join(child_names)}]")
    constructor = f"{_module(spec.name)}.{spec.name}"
    if spec.name == USER_SUBCLASS:  # the user's class, defined at the top of the snippet
        mixin, params = vocabulary.subclass(kwargs.pop(SUBCLASS_KWARG))
        constructor = mixin.__name__
        args += [f"{key}={_literal(value)}" for key, value in params.items()]
    for key, value in kwargs.items():
        if handles and holds_tensor_argument(key, value):
            args.append(f'{key}=user["{key}"]')
        else:
            args.append(f"{key}={_callable(value) if key in CALLABLE_KWARGS else _literal(value)}")
    lines.append(f"{name} = {constructor}({', '.join(args)})")
    return lines


def _module(scheduler: str) -> str:
    """The torch.optim submodule a scheduler class is in: lr_scheduler, or swa_utils for SWALR."""
    return reference_module(scheduler).rsplit(".", 1)[1]


def _callable(spec) -> str:
    """A vocabulary spec as a lambda with its exact expression, its parameters bound as defaults."""
    if isinstance(spec, list):
        return "[" + ", ".join(_callable(item) for item in spec) + "]"
    entry = vocabulary.ENTRIES[spec["fn"]]
    params = {**(entry.defaults or {}), **{k: v for k, v in spec.items() if k != "fn"}}
    if not entry.is_callable:  # the user's mistake itself: the bare value where a callable belongs
        return _literal(params["value"])
    if isinstance(entry.make, type):  # a callable object: its class is defined at the top of the snippet
        return f"{entry.make.__name__}({', '.join(f'{k}={_literal(params[k])}' for k in entry.params if k in params)})"
    bound = "".join(f", {key}={_literal(params[key])}" for key in entry.params if key in params)
    return f"lambda x{bound}: {entry.expression}"


def _callable_classes(spec: SchedulerSpec) -> list[str]:
    """Source of the callable-object classes and user subclasses the case's scheduler tree uses, once each."""
    sources: list[str] = []
    for node in spec.walk():
        if node.name == USER_SUBCLASS:  # the mixin's code as the user writes it: a subclass of LRScheduler
            mixin, _ = vocabulary.subclass(node.kwargs[SUBCLASS_KWARG])
            for cls in reversed(mixin.__mro__[:-1]):  # its vocabulary bases first; the root derives from torch's
                # torch before 2.0 names the base class _LRScheduler: the snippet runs on every release
                source = inspect.getsource(cls).replace(
                    f"class {cls.__name__}:",
                    f'class {cls.__name__}(getattr(lr_scheduler, "LRScheduler", None) or lr_scheduler._LRScheduler):',
                    1)
                if source not in sources:
                    sources.append(source)
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
    if is_tensor_argument(value):
        return f"torch.tensor({_literal(value[TENSOR_KEY])})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v, tuples)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
