"""The reference adapter: the installed torch.optim.lr_scheduler and torch.optim.swa_utils.SWALR, through the
same interface as any other.

Mapping from a case to torch (the contract every golden was generated under):
  * one parameter (a 1-element zero tensor) per param group; the group table's keys (lr, momentum, betas,
    initial_lr, ...) become the param group's keys; with `tensor_lr`, every lr is a 0-dim float32 tensor, and
    with a group's own `tensor_lr` that group's (its flag itself is no group key);
  * a scheduler argument {tensor = x} is torch.tensor(x), alone or in a per-group list;
  * the optimizer is SGD or Adam with the case's optimizer kwargs, its default lr the first group's lr;
  * composites build their children first, in order, on the same optimizer; `optimizer = true` in a
    ChainedScheduler's kwargs passes the optimizer (torch >= 2.4);
  * callables come from conformance.vocabulary (plain functions, as a user's lambdas would be); a user's own
    scheduler (LRScheduler with kwargs.subclass) is the vocabulary's mixin over torch's LRScheduler;
  * a checkpoint is torch.save({"optimizer", "scheduler"} state dicts) into memory and torch.load back, as a
    real checkpoint would be (read back with weights_only=False, or as a `resume` states it); restoring builds fresh objects, then loads the optimizer, then the scheduler
    (the order torch's documentation asks for);
  * interventions (spec 4.5) are what a user's loop would write: `param_groups[g][key] = value` (a 0-dim
    tensor for lr / initial_lr under `tensor_lr`), `add_param_group({"params": [a new parameter], **options})`,
    `optimizer.step = wrapper` (a plain function, or functools.wraps of the bound method), a second scheduler
    built on the same optimizer, `scheduler.get_lr()` / `get_last_lr()`, and a restore that loads only the
    state dicts asked for, in the order asked (into a scheduler built from the action's own spec, if it has one);
    `change-argument` is `mul_` / `fill_` on the very tensor the user passed (a session keeps the group lrs
    and the scheduler's arguments it was built with: a restored session those of its own fresh objects).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import io

from conformance import vocabulary
from conformance.adapters.base import Session, StatefulAdapter
from conformance.cases import COMPOSITES, SCHEDULER_CLASSES, reference_module
from conformance.model import (
    CALLABLE_KWARGS,
    FEATURES,
    GROUP_FLAGS,
    GROUP_LR_ARGUMENT,
    SUBCLASS_KWARG,
    TENSOR_KEY,
    USER_SUBCLASS,
    AdapterInfo,
    Case,
    SchedulerSpec,
    holds_tensor_argument,
    is_tensor_argument,
)


def torch_optimizer(case: Case, as_lr=lambda value, group: value):
    """The torch optimizer every torch-based adapter (torch itself, mmengine, timm) builds for a case, so that
    all of them drive the same thing: one param group per group table (torch_group), the case's optimizer class
    and kwargs, its default lr the first group's lr. `as_lr(value, group)` converts each lr / initial_lr of
    group `group` (the torch reference makes 0-dim tensors of those of a tensor group, spec 3.3)."""
    import torch

    groups = [torch_group(spec, lambda value, g=index: as_lr(value, g)) for index, spec in enumerate(case.groups)]
    kwargs = {key: tuple(v) if isinstance(v, list) else v for key, v in case.optimizer.kwargs.items()}
    return getattr(torch.optim, case.optimizer.name)(groups, **{"lr": groups[0]["lr"], **kwargs})


def scheduler_class(name: str):
    """torch's class for a scheduler name, or None where the installed release lacks it (most live in
    torch.optim.lr_scheduler, SWALR in torch.optim.swa_utils: cases.reference_module). The base class of a
    user's subclass is LRScheduler, `_LRScheduler` before torch 2.0 made it public."""
    module = importlib.import_module(reference_module(name))
    if name == USER_SUBCLASS:
        return getattr(module, name, None) or getattr(module, "_LRScheduler", None)
    return getattr(module, name, None)


def torch_group(options, as_lr=lambda value: value) -> dict:
    """A torch param group from a case's group table or an add-param-group's options (spec 4.5): a new
    1-element zero Parameter carrying those keys (lists as tuples: betas; lr / initial_lr through `as_lr`)."""
    import torch

    # the harness's own flags (tensor_lr) say how to build the group; they are no hyperparameter of it
    group = {key: tuple(v) if isinstance(v, list) else v for key, v in options.items() if key not in GROUP_FLAGS}
    for key in ("lr", "initial_lr"):
        if key in options:
            group[key] = as_lr(options[key])
    return {**group, "params": [torch.nn.Parameter(torch.zeros(1))]}


@functools.cache
def user_subclass(mixin: type, base: type) -> type:
    """`class <Mixin>(base)` with the mixin's methods, as the user wrote it: its name and its methods' qualified
    names are the mixin's (what torch's messages show). One class per pair, as a user defines it once."""
    return type(mixin.__name__, (mixin, base), {"__module__": mixin.__module__})


def wrapped_step(original, keep_attributes: bool):
    """What accelerate / a GradScaler-style wrapper puts in place of an optimizer's `step` after the scheduler
    was built (spec 4.5): a function calling the original; with `keep_attributes`, functools.wraps of it (which
    copies the attributes a scheduler may have marked the original with)."""

    def step(*args, **kwargs):
        return original(*args, **kwargs)

    return functools.wraps(original)(step) if keep_attributes else step


def _given(second) -> tuple:
    """The second optimizer as an argument of `_scheduler`, only for a case that has one: subclasses (tests'
    fakes, adapters built on this one) override `_scheduler(spec, optimizer)` with two arguments."""
    return () if second is None else (second,)


def _release(version: str) -> str:
    return version.split("+", 1)[0]  # "2.13.0+cpu" -> "2.13.0"


class TorchSession(Session):
    def __init__(self, optimizer, scheduler, adapter=None, case=None, arguments=None) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler
        self._adapter, self._case = adapter, case
        # What the user passed at construction, kept as a user's variables are (change-argument, spec 4.5): the
        # groups' lrs ("lr") and the scheduler's arguments by name, the very objects, whatever now holds them
        self._arguments = arguments or {}

    def set_group(self, group, key, value) -> None:
        self.optimizer.param_groups[group][key] = self._as_lr(value, group) if key in ("lr", "initial_lr") else value

    def add_param_group(self, options) -> None:
        new = len(self.optimizer.param_groups)
        self.optimizer.add_param_group(torch_group(options, lambda value: self._as_lr(value, new)))

    def wrap_optimizer_step(self, keep_attributes) -> None:
        self.optimizer.step = wrapped_step(self.optimizer.step, keep_attributes)

    def add_scheduler(self, spec) -> TorchSession:
        return TorchSession(self.optimizer, self._adapter._scheduler(spec, self.optimizer))

    def get_lr(self):
        return self.scheduler.get_lr()

    def get_last_lr(self):
        return self.scheduler.get_last_lr()

    def read_scheduler(self, attribute):
        return getattr(self.scheduler, attribute)  # AttributeError where the scheduler has none, as a user gets

    def set_scheduler(self, attribute, value):
        setattr(self.scheduler, attribute, value)

    def change_argument(self, argument, group, multiply, value):
        tensor = self._arguments[argument]
        if group is not None:
            tensor = tensor[group]
        if multiply is not None:
            tensor.mul_(multiply)
        else:
            tensor.fill_(value)

    def _as_lr(self, value, group: int):
        return self._adapter._lr(value, self._case, group)

    def lrs(self):
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def momenta(self):
        return [
            float(group["betas"][0]) if "betas" in group else float(group["momentum"])
            for group in self.optimizer.param_groups
        ]

    def last_lrs(self):
        get_last_lr = getattr(self.scheduler, "get_last_lr", None)
        if get_last_lr is None:  # ReduceLROnPlateau before torch 2.2: no get_last_lr(), nothing to report
            return None
        try:
            return [float(lr) for lr in get_last_lr()]
        except AttributeError:  # torch 2.2's ReduceLROnPlateau: no _last_lr before its first step (pytorch#119366)
            return None

    def optimizer_step(self) -> None:
        self.optimizer.step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if metric is not None and epoch is not None:
            self.scheduler.step(metric, epoch)  # ReduceLROnPlateau's deprecated epoch argument
        elif metric is not None:
            self.scheduler.step(metric)
        elif epoch is not None:
            self.scheduler.step(epoch)
        else:
            self.scheduler.step()

    def save(self):
        import torch

        buffer = io.BytesIO()
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}, buffer)
        return buffer.getvalue()


class TorchAdapter(StatefulAdapter):
    def __init__(self) -> None:
        import torch
        import torch.optim.lr_scheduler as lr_scheduler

        self._torch = torch
        self._lr_scheduler = lr_scheduler  # an attribute, so that a test's deviant adapter can swap classes
        self.info = AdapterInfo(
            name="torch",
            version=_release(torch.__version__),
            schedulers=frozenset(name for name in SCHEDULER_CLASSES if self._scheduler_class(name) is not None),
            features=frozenset(FEATURES),
            observables=frozenset({"last_lr", "messages"}),
            mirrors=_release(torch.__version__),
        )

    def build(self, case: Case, scheduler: SchedulerSpec | None = None) -> TorchSession:
        """The case's optimizer and scheduler; with `scheduler`, that spec built instead of the case's (a resume
        into a scheduler built with other arguments, spec 4.5)."""
        optimizer = self._optimizer(case)
        arguments = {GROUP_LR_ARGUMENT: [group["lr"] for group in optimizer.param_groups]}  # before any scheduler
        spec = scheduler or case.scheduler
        if spec.name not in COMPOSITES:  # its tensor arguments made here, kept, and passed on as they are
            made = {key: self._argument(value) for key, value in spec.kwargs.items()
                    if holds_tensor_argument(key, value)}
            arguments.update(made)
            spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **made})
        # a child `on` the second optimizer (spec 2.5): one more optimizer built like the case's, never stepped
        second = self._optimizer(case) if any(s.on == "second-optimizer" for s in spec.walk()) else None
        return TorchSession(optimizer, self._scheduler(spec, optimizer, *_given(second)), self, case, arguments)

    def restore(self, case: Case, checkpoint: bytes, load=("optimizer", "scheduler"), scheduler=None,
                weights_only: bool = False) -> TorchSession:
        """Fresh objects loading `load` from `checkpoint`, read back by torch.load with `weights_only` (False
        unless a resume states it: the loader every golden before the key was generated with)."""
        state = self._torch.load(io.BytesIO(checkpoint), weights_only=weights_only)
        session = self.build(case, scheduler)
        for name in load:
            getattr(session, name).load_state_dict(state[name])
        return session

    def _lr(self, value, case: Case, group: int):
        return self._torch.tensor(value) if case.tensor_group(group) else value

    def _optimizer(self, case: Case):
        return torch_optimizer(case, as_lr=lambda value, group: self._lr(value, case, group))

    def _argument(self, value):
        """A scheduler argument as torch receives it: {tensor = x} a 0-dim tensor (float32, or int64 for an
        integer, as torch.tensor makes them), in a per-group list too; anything else as it is."""
        if is_tensor_argument(value):
            return self._torch.tensor(value[TENSOR_KEY])
        if isinstance(value, list):
            return [self._argument(item) for item in value]
        return value

    def _scheduler_class(self, name: str):
        return getattr(self._lr_scheduler, name, None) or scheduler_class(name)

    def _scheduler(self, spec: SchedulerSpec, case_optimizer, second=None):
        """`spec` built on what its `on` names (spec 2.5): the case's optimizer, the `second` one or None."""
        optimizer = {"optimizer": case_optimizer, "second-optimizer": second, "none": None}[spec.on]
        cls = self._scheduler_class(spec.name)
        kwargs = {
            key: vocabulary.build(value) if key in CALLABLE_KWARGS else self._argument(value)
            for key, value in spec.kwargs.items() if key != SUBCLASS_KWARG
        }
        if spec.name == USER_SUBCLASS:  # the user's class: the vocabulary's methods over torch's base class
            mixin, params = vocabulary.subclass(spec.kwargs[SUBCLASS_KWARG])
            return user_subclass(mixin, cls)(optimizer, **params, **kwargs)
        if spec.name not in COMPOSITES:
            return cls(optimizer, **kwargs)
        # each child on what its own `on` names, whatever its composite's; a `{ none = true }` child is None
        children = [None if child is None else self._scheduler(child, case_optimizer, *_given(second))
                    for child in spec.children]
        if spec.name == "ChainedScheduler":
            if kwargs.pop("optimizer", False):
                return cls(children, optimizer=optimizer, **kwargs)
            return cls(children, **kwargs)
        return cls(optimizer, schedulers=children, **kwargs)
