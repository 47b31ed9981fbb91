"""The domain model: cases, traces, adapters' declarations and results. Frozen dataclasses only.

Everything an implementation in another language needs is expressible here as plain data;
`to_json`/`from_json` helpers live next to the types that cross a process boundary.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --- cases ----------------------------------------------------------------------------------

# The step protocols. Each is a loop the runner drives; see conformance/runner.py for the exact order of calls.
PROTOCOLS = ("standard", "scheduler-first", "resume-state-dict", "step-epoch")

# Schedulers whose momentum (SGD) or beta1 (Adam) is driven when cycle_momentum is true (the default).
MOMENTUM_SCHEDULERS = ("CyclicLR", "OneCycleLR")

# Keyword arguments whose values are callables; in case files they are vocabulary specs
# ({fn = "name", ...params}) or lists of them (one per param group). See conformance/vocabulary.py.
CALLABLE_KWARGS = ("lr_lambda", "scale_fn")

# A user's own scheduler: `scheduler = USER_SUBCLASS` with `kwargs.subclass` naming a vocabulary subclass
# (vocabulary.SUBCLASSES), built on the reference's base class. Not one of the 16 schedulers: an implementation
# declares it as a scheduler name when it can graft those methods onto its own base class (spec 2.4).
USER_SUBCLASS = "LRScheduler"
SUBCLASS_KWARG = "subclass"

# A scheduler argument given as the table {tensor = number} is a 0-dim tensor of that number (spec 2.4, "Tensor
# arguments"): torch's test_constant_initial_params_* pass CyclicLR's base_lr / max_lr / momenta, OneCycleLR's
# max_lr and SWALR's swa_lr as tensors. Allowed as a kwarg's value or as an element of its per-group list.
TENSOR_KEY = "tensor"

# Keys of a group table that say how the harness builds the group rather than naming a param group
# hyperparameter: they never reach the optimizer. `tensor_lr` makes that group's lr and initial_lr 0-dim tensors
# (spec 3.3), so that float and tensor groups can be mixed as torch's own test fixture does.
GROUP_FLAGS = ("tensor_lr",)


def is_tensor_argument(value) -> bool:
    """Whether a kwarg value (or a per-group list's element) is a tensor argument {tensor = number}."""
    return isinstance(value, Mapping) and set(value) == {TENSOR_KEY}


def holds_tensor_argument(key: str, value) -> bool:
    """Whether kwarg `key` is, or lists, a tensor argument (a callable's or a subclass's parameters never are)."""
    return key not in CALLABLE_KWARGS and key != SUBCLASS_KWARG and (
        is_tensor_argument(value) or (isinstance(value, list) and any(map(is_tensor_argument, value))))


def has_tensor_argument(spec: SchedulerSpec) -> bool:
    """Whether any kwarg of `spec` itself (not its children) is, or lists, a tensor argument."""
    return any(holds_tensor_argument(key, value) for key, value in spec.kwargs.items())


# Constructor arguments torch has removed, with the schedulers that took them (spec 2.4). `verbose` printed each
# lr change; torch 2.2 deprecated it (a UserWarning whenever it is passed), 2.7 removed it (a TypeError), so a
# case giving it records all three behaviours across the releases. Torch 2.13's constructors (the schema's kwargs)
# lack it: it is allowed on these schedulers only, and a case giving it needs the `verbose` feature.
REMOVED_KWARGS = {
    "verbose": ("LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
                "PolynomialLR", "CosineAnnealingLR", "SequentialLR", "ReduceLROnPlateau", "CyclicLR",
                "CosineAnnealingWarmRestarts", "OneCycleLR"),
}


@dataclass(frozen=True)
class SchedulerSpec:
    """One scheduler: its class name, constructor kwargs, and (for composites) the schedulers it wraps."""

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    # composites: the wrapped schedulers; None where a case's `{ none = true }` child puts Python's None in the
    # list (a user's conditional scheduler left unset), which torch's composites refuse (spec 2.5)
    children: tuple[SchedulerSpec | None, ...] = ()
    on: str = "optimizer"  # what is passed as its optimizer (ON_VALUES, spec 2.5)

    def walk(self):
        yield self
        for child in self.children:
            if child is not None:  # a None child is no scheduler: nothing to build, declare or visit
                yield from child.walk()

    @property
    def wrong_objects(self) -> bool:
        """Whether the tree gives a constructor an object that is not what it takes (spec 2.5): None for an
        optimizer or a child, or a child on a second optimizer (the `wrong_objects` feature)."""
        return any(node.on != "optimizer" or None in node.children for node in self.walk())


# What a scheduler spec's `on` passes as the scheduler's optimizer (spec 2.5): the case's optimizer; a second
# optimizer built like it (children only: the composite's same-optimizer check); None (the constructor's
# "is not an Optimizer" TypeError, which a wrapper that is no torch Optimizer also meets).
ON_VALUES = ("optimizer", "second-optimizer", "none")


@dataclass(frozen=True)
class OptimizerSpec:
    name: str = "SGD"  # cases.OPTIMIZERS: "SGD", "Adam", "Adagrad", "AdamW" or "Rprop"
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# Interventions (spec 4.5): what real training loops do besides the textbook observe / optimizer.step /
# scheduler.step, as data the runner interprets. Each needs its own feature (below): an adapter that does not
# declare it gets such a case as unsupported, never as a failure.
INTERVENTION_FEATURES = {
    "skip-optimizer-step": "skip_optimizer_step",  # AMP's GradScaler skipping an overflowing step
    # the scheduler stepped `count` times in one iteration (0 = not at all); with `epoch`, as step(epoch)
    "scheduler-steps": "scheduler_steps",
    "wrap-optimizer-step": "wrap_optimizer_step",  # optimizer.step replaced by a wrapper after construction
    "set": "set_group",  # a param group's lr / momentum / initial_lr set by hand
    "add-param-group": "add_param_group",  # optimizer.add_param_group mid-run (progressive unfreezing)
    "add-scheduler": "add_scheduler",  # a second scheduler built on the same optimizer mid-run, stepped too
    "call": "call_scheduler",  # the user calls scheduler.get_lr() or get_last_lr() (its return is recorded)
    "read-scheduler": "read_scheduler",  # the user reads a scheduler attribute (last_epoch, T_cur, ...): recorded
    "set-scheduler": "set_scheduler",  # the user writes a scheduler attribute by hand (rewinds last_epoch, ...)
    # the user changes, in place, a tensor they passed at construction (a group's tensor lr, a tensor argument)
    "change-argument": "change_argument",
    "resume": "partial_resume",  # a checkpoint restored into fresh objects, loading only some state dicts
}
INTERVENTIONS = tuple(INTERVENTION_FEATURES)
# Case-language elements that are no intervention kind but that a library's INTERVENTIONS table declares like
# one (a Port each, conformance/libraries/common.py), since whether a port has them is a property of its API: what
# a constructor is given (`on`, `{ none = true }` children, spec 2.5) and a state dict loaded twice (4.5).
DECLARED_FEATURES = {"on": "wrong_objects", "load-twice": "reused_state_dict"}
SETTABLE_KEYS = ("lr", "initial_lr", "momentum")  # what `set` may write into a param group
CALLABLE_METHODS = ("get_lr", "get_last_lr")  # what `call` may call
# What `read-scheduler` may read (spec 4.5): public attributes of torch's schedulers that loops read to log or
# to resume, and the classes that have them in the reference (None: see has_attribute). Any of them may be read
# from any scheduler: one the scheduler lacks is an AttributeError, as in torch.
READABLE_ATTRIBUTES = {
    "last_epoch": None,  # every scheduler but ChainedScheduler (SequentialLR has its own)
    "base_lrs": None,  # every scheduler of Annex A.2: not ReduceLROnPlateau, not the composites
    "T_cur": ("CosineAnnealingWarmRestarts",),
    "T_i": ("CosineAnnealingWarmRestarts",),
    "min_lrs": ("ReduceLROnPlateau",),
    "best": ("ReduceLROnPlateau",),
    "num_bad_epochs": ("ReduceLROnPlateau",),
    "cooldown_counter": ("ReduceLROnPlateau",),
}
LIST_ATTRIBUTES = ("base_lrs", "min_lrs")  # read as lists: one value event per element (one per param group)
# What `set-scheduler` may write, and the shape of its value: "int" (last_epoch), "number" (T_cur), "list" (one
# number per group, the whole list replaced). Only on a scheduler that has the attribute (has_attribute): a
# setattr of one it lacks would only add an attribute nothing reads, so the language refuses it.
SETTABLE_ATTRIBUTES = {"last_epoch": "int", "T_cur": "number", "base_lrs": "list", "min_lrs": "list"}


def has_attribute(scheduler: str, attribute: str) -> bool:
    """Whether the reference's `scheduler` class has `attribute` of READABLE_ATTRIBUTES (spec 4.5's table)."""
    if attribute == "last_epoch":
        return scheduler != "ChainedScheduler"
    if attribute == "base_lrs":
        return scheduler not in ("ChainedScheduler", "SequentialLR", "ReduceLROnPlateau")
    return scheduler in READABLE_ATTRIBUTES[attribute]


# What `change-argument` may change in place (spec 4.5): "lr", a tensor group's lr as the optimizer was given it,
# or the case's scheduler's tensor argument of that name ({tensor = x}, alone or in a per-group list).
GROUP_LR_ARGUMENT = "lr"
STATE_DICTS = ("optimizer", "scheduler")  # what `resume` may load, in the order given


@dataclass(frozen=True)
class Intervention:
    """One action of a case's `interventions` list at loop iteration `at` (spec 4.5). Only the fields of its
    kind (`do`) are set."""

    at: int
    do: str
    group: int | None = None  # set: the param group; change-argument: the group of "lr", a list argument's element
    key: str | None = None  # set: lr, initial_lr or momentum
    value: float | tuple[float, ...] | None = None  # set / set-scheduler: the value written (a list: a tuple)
    options: Mapping[str, Any] = field(default_factory=dict)  # add-param-group: the new group's keys but params
    # add-scheduler: the scheduler built on the optimizer; resume: the fresh objects' scheduler, built with other
    # arguments than the case's (None: the case's own)
    scheduler: SchedulerSpec | None = None
    first: bool = False  # add-scheduler: stepped before the case's scheduler (default: after it)
    # add-scheduler: the first iteration it is stepped (the case's `from`; None: `at`), so that a scheduler built
    # up front (at 0) starts stepping later, as torch's SWALR after MultiplicativeLR and cosine-then-cyclic do
    stepped_from: int | None = None
    replace: bool = False  # add-scheduler: from `from` on the case's scheduler is no longer stepped (a switch)
    method: str | None = None  # call: get_lr or get_last_lr
    attribute: str | None = None  # read-scheduler / set-scheduler: the scheduler attribute read or written
    count: int | None = None  # scheduler-steps: how many scheduler steps this iteration
    epoch: float | None = None  # scheduler-steps: those steps are step(epoch), in a run of plain step() calls
    load: tuple[str, ...] = STATE_DICTS  # resume: the state dicts loaded into the fresh objects, in order
    # resume: how the checkpoint is read back - torch.load(weights_only=True) refuses anything but tensors and
    # plain data; None = not stated (the reference loads with weights_only=False, as before the key existed)
    weights_only: bool | None = None
    keep_attributes: bool = False  # wrap-optimizer-step: functools.wraps the original (copies its attributes)
    argument: str | None = None  # change-argument: "lr" (a group's tensor lr) or the scheduler argument's name
    multiply: float | None = None  # change-argument: tensor.mul_(multiply) (else `value`: tensor.fill_(value))

    @property
    def feature(self) -> str:
        return INTERVENTION_FEATURES[self.do]

    @property
    def first_stepped(self) -> int:
        """add-scheduler: the first iteration the added scheduler is stepped (its `from`, else `at`)."""
        return self.at if self.stepped_from is None else self.stepped_from


@dataclass(frozen=True)
class Case:
    """One conformance case, as read from golden/cases/*.toml (see golden/cases/README.md)."""

    id: str
    why: str
    scheduler: SchedulerSpec
    groups: tuple[Mapping[str, Any], ...]
    steps: int
    optimizer: OptimizerSpec = OptimizerSpec()
    protocol: str = "standard"
    resume_at: int | None = None
    metrics: tuple[float, ...] | None = None  # fed to ReduceLROnPlateau.step(metric), one per step
    epochs: tuple[float, ...] | None = None  # fed to step(epoch) by the step-epoch protocol
    tensor_lr: bool = False
    # Record momentum / beta1 although no scheduler drives it, so that "left untouched" (cycle_momentum=False
    # on Adam) is graded like any value (spec 5.2).
    observe_momentum: bool = False
    torch: str = ""  # PEP 440 specifier of the torch releases the case applies to; "" = all
    tags: tuple[str, ...] = ()
    expect_error: str | None = None  # documents intent; `check` verifies the reference golden agrees
    expect_warning: str | None = None
    interventions: tuple[Intervention, ...] = ()  # in iteration order, then as listed (spec 4.5)
    source: str = ""  # "golden/cases/steplr.toml" - where the case was read from
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def family(self) -> str:
        return self.id.split("/", 1)[0]

    def all_schedulers(self):
        """Every SchedulerSpec the case builds: the scheduler tree, then those `add-scheduler` adds."""
        yield from self.scheduler.walk()
        for action in self.interventions:
            if action.scheduler is not None:
                yield from action.scheduler.walk()

    @property
    def schedulers(self) -> frozenset[str]:
        return frozenset(s.name for s in self.all_schedulers())

    @property
    def drives_momentum(self) -> bool:
        return any(
            s.name in MOMENTUM_SCHEDULERS and s.kwargs.get("cycle_momentum", True) for s in self.all_schedulers()
        )

    @property
    def observes_momentum(self) -> bool:
        """Whether observations carry momentum (spec 5.2): where a scheduler drives it, or the case asks."""
        return self.observe_momentum or self.drives_momentum

    def actions_at(self, i: int) -> tuple[Intervention, ...]:
        """The interventions of iteration i, as listed."""
        return tuple(action for action in self.interventions if action.at == i)

    def groups_at(self, i: int) -> int:
        """How many param groups iteration i observes: the case's, plus those added at or before it."""
        return len(self.groups) + sum(1 for a in self.interventions if a.do == "add-param-group" and a.at <= i)

    @property
    def group_tensor_lr(self) -> bool:
        """Whether any group table sets its own `tensor_lr` (a per-group flag, beside or instead of the case's)."""
        return any(group.get("tensor_lr", False) for group in self.groups)

    def tensor_group(self, group: int) -> bool:
        """Whether param group `group`'s lr and initial_lr are 0-dim tensors (spec 3.3): the case's `tensor_lr`,
        or the group's own flag. A group added mid-run (index past the case's groups) follows the case's flag."""
        if group < len(self.groups):
            return self.tensor_lr or bool(self.groups[group].get("tensor_lr", False))
        return self.tensor_lr

    @property
    def step_args(self) -> tuple[float, ...] | None:
        return self.metrics if self.metrics is not None else self.epochs

    def step_kwargs(self, i: int) -> dict[str, float]:
        """The keyword arguments of iteration i's scheduler step (spec 4.2): the metric of a plateau case, the
        epoch of a step-epoch case, else none."""
        kwargs = {}
        if self.metrics is not None:
            kwargs["metric"] = self.metrics[i]
        if self.protocol == "step-epoch":
            kwargs["epoch"] = self.epochs[i]
        epoch = next((a.epoch for a in self.actions_at(i) if a.do == "scheduler-steps" and a.epoch is not None), None)
        if epoch is not None:  # step(epoch) at this iteration of a run stepped with step() elsewhere (spec 4.5)
            kwargs["epoch"] = epoch
        return kwargs

    def features(self) -> frozenset[str]:
        """Capabilities an adapter needs for this case, read from the spec alone.

        The golden adds `warnings` / `errors` when it contains such events (see compare.required_features).
        """
        needs = set()
        if self.resume_at is not None:
            needs.add("state_dict")
        if self.protocol == "scheduler-first":
            needs.add("scheduler_first")
        if self.protocol == "step-epoch":
            needs.add("step_epoch")
            if any(float(e) != int(e) for e in self.epochs or ()):
                needs.add("fractional_epoch")
        if any(s.kwargs.get("last_epoch", -1) != -1 for s in self.scheduler.walk()):
            needs.add("last_epoch")
        if self.observes_momentum:
            needs.add("momentum")
        if self.tensor_lr or self.group_tensor_lr:
            needs.add("tensor_lr")
        if self.group_tensor_lr:
            needs.add("group_tensor_lr")
        if any(has_tensor_argument(s) for s in self.all_schedulers()):
            needs.add("tensor_args")
        if self.metrics is not None:
            needs.add("plateau")
        if any("verbose" in s.kwargs for s in self.all_schedulers()):
            needs.add("verbose")
        needs.update(action.feature for action in self.interventions)
        if any(action.do == "resume" and action.scheduler is not None for action in self.interventions):
            needs.add("resume_other_arguments")
        if any(action.do == "resume" and action.weights_only is not None for action in self.interventions):
            needs.add("weights_only")
        if any(action.first_stepped > action.at for action in self.interventions if action.do == "add-scheduler"):
            needs.add("add_scheduler_from")
        if any(action.replace for action in self.interventions):
            needs.add("replace_scheduler")
        if any(action.do == "resume" and len(set(action.load)) < len(action.load) for action in self.interventions):
            needs.add("reused_state_dict")
        if any(spec.wrong_objects for spec in (self.scheduler, *(a.scheduler for a in self.interventions)) if spec):
            needs.add("wrong_objects")
        mixed = [action.epoch for action in self.interventions if action.epoch is not None]
        if mixed:
            needs.update(("step_epoch", "mixed_step_epoch"))
            if any(float(e) != int(e) for e in mixed):
                needs.add("fractional_epoch")
        if any(action.do == "resume" for action in self.interventions):
            needs.add("state_dict")
        return frozenset(needs)


# --- traces ---------------------------------------------------------------------------------

# Phases an event can come from. "intervene", "call" and "added-scheduler.step" come from interventions (4.5);
# "call" is both a `call` of get_lr()/get_last_lr() and a `read-scheduler` of an attribute (the event's type
# says which: the method's name or the attribute's).
PHASES = ("construct", "observe", "scheduler.step", "optimizer.step", "state_dict", "resume", "intervene", "call",
          "added-scheduler.step")
# Event kinds: "value" is what a `call` intervention returned or a `read-scheduler` read, one event per element
# (its message the number).
EVENT_KINDS = ("warning", "error", "value")


@dataclass(frozen=True)
class Observation:
    """What the optimizer used at loop iteration `step` for param group `group`.

    lr: param_groups[g]["lr"] when the optimizer steps; momentum: SGD momentum or Adam betas[0] (only where a
    scheduler drives it); last_lr: what scheduler.get_last_lr()[g] reports at that moment (optional observable);
    step_arg: the metric (plateau) or epoch (step-epoch) passed to scheduler.step at this iteration.
    """

    step: int
    group: int
    lr: float
    momentum: float | None = None
    last_lr: float | None = None
    step_arg: float | None = None


@dataclass(frozen=True)
class Event:
    """A warning or error raised while driving a case. The message is kept for humans; `kind`, `type`,
    `phase` and `step` are the contract (messages are compared only for adapters that declare `messages`)."""

    step: int
    phase: str
    kind: str  # "warning" | "error" | "value" (a `call` intervention's returned element: message = repr(float))
    type: str  # exception or warning class name, e.g. "UserWarning", "ValueError"
    message: str = ""

    @property
    def key(self) -> tuple:
        return (self.step, self.phase, self.kind, self.type)


@dataclass(frozen=True)
class Trace:
    observations: tuple[Observation, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def error(self) -> Event | None:
        return next((e for e in self.events if e.kind == "error"), None)

    def has(self, kind: str) -> bool:
        return any(e.kind == kind for e in self.events)

    def to_json(self) -> dict:
        return {
            "observations": [
                [o.step, o.group, o.lr, o.momentum, o.last_lr, o.step_arg] for o in self.observations
            ],
            "events": [[e.step, e.phase, e.kind, e.type, e.message] for e in self.events],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trace:
        """The protocol's trace object (schemas/protocol.schema.json), read as strictly as the schema: a step
        of 0.5 or "3", a kind other than warning/error, a number given as text raise ValueError, never a
        quietly rounded or converted value that could then match a golden."""
        observations = []
        for row in data.get("observations", ()):
            if not isinstance(row, (list, tuple)) or len(row) != 6:
                raise ValueError(f"an observation is [step, group, lr, momentum, last_lr, step_arg], got {row!r}")
            step, group, lr, momentum, last_lr, step_arg = row
            observations.append(Observation(_index(step, "step"), _index(group, "group"), _num(lr),
                                            _opt(momentum), _opt(last_lr), _opt(step_arg)))
        events = []
        for row in data.get("events", ()):
            if not isinstance(row, (list, tuple)) or len(row) != 5:
                raise ValueError(f"an event is [step, phase, kind, type, message], got {row!r}")
            step, phase, kind, type_, message = row
            if kind not in EVENT_KINDS:
                raise ValueError(f"an event's kind is 'warning', 'error' or 'value', got {kind!r}")
            if not all(isinstance(text, str) for text in (phase, type_, message)) or not type_:
                raise ValueError(f"an event's phase, type and message are strings (type not empty), got {row!r}")
            events.append(Event(_index(step, "step"), phase, kind, type_, message))
        return cls(observations=tuple(observations), events=tuple(events))


def _index(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
    return value


def _num(value) -> float:
    # JSON cannot carry nan/inf; the wire format sends them as the strings "nan", "inf", "-inf" - and only those.
    if isinstance(value, str) and value in NONFINITE_STRINGS:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"a number (or \"nan\", \"inf\", \"-inf\") expected, got {value!r}")
    return float(value)


NONFINITE_STRINGS = ("nan", "inf", "-inf")


def json_safe(value):
    """`value` with every non-finite float replaced by the string "nan", "inf" or "-inf" (JSON has no
    nan/inf; the result document and the subprocess protocol both write them this way). Tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _opt(value) -> float | None:
    return None if value is None else _num(value)


# --- adapters -------------------------------------------------------------------------------

FEATURES = (
    "state_dict",  # resume-state-dict protocol: save/load into fresh objects
    "last_epoch",  # constructing with last_epoch=k (resume without a state dict)
    "scheduler_first",  # the pre-1.1.0 ordering: scheduler.step() before optimizer.step()
    "step_epoch",  # deprecated step(epoch) closed form
    "fractional_epoch",  # step(epoch) with non-integer epochs (CosineAnnealingWarmRestarts)
    "momentum",  # momentum / Adam beta1 driven by CyclicLR / OneCycleLR
    "tensor_lr",  # 0-dim tensor learning rates (float32 rounding)
    "plateau",  # metric-driven stepping (ReduceLROnPlateau)
    "warnings",  # emits the same warning categories at the same steps
    "errors",  # raises the same exception types at the same point
    *INTERVENTION_FEATURES.values(),  # the interventions of spec 4.5, one feature each
    "verbose",  # the removed `verbose` constructor argument (REMOVED_KWARGS): accepted, warned about or refused
    "wrong_objects",  # a constructor given None for its optimizer or a child, or a child on a second optimizer
    "group_tensor_lr",  # a group's own `tensor_lr` flag: float and tensor lrs mixed across groups (GROUP_FLAGS)
    "tensor_args",  # scheduler arguments given as 0-dim tensors ({tensor = number}, TENSOR_KEY)
    "resume_other_arguments",  # a `resume` whose fresh scheduler is built with other arguments (the saved ones win)
    "mixed_step_epoch",  # step(epoch) at some iterations, step() at the others (scheduler-steps with `epoch`)
    "weights_only",  # a `resume` stating how its checkpoint is read back (torch.load(weights_only=True/False))
    "add_scheduler_from",  # an add-scheduler first stepped later than it is built (`from` > `at`)
    "replace_scheduler",  # an add-scheduler that replaces the case's scheduler from `from` on (`replace`)
    "reused_state_dict",  # a `resume` loading one state dict object twice (`load` lists it twice, pytorch#32756)
)

OBSERVABLES = ("last_lr", "messages")


@dataclass(frozen=True)
class Tolerance:
    """How close an adapter's floats must be. rel = abs = 0 means bit-exact. `reason` is mandatory
    whenever the tolerance is not exact: a tolerance with no justification is a bug."""

    rel: float = 0.0
    abs: float = 0.0
    reason: str = "bit-exact"

    @property
    def exact(self) -> bool:
        return self.rel == 0.0 and self.abs == 0.0

    def close(self, expected: float, actual: float) -> bool:
        if math.isnan(expected) or math.isnan(actual):
            return math.isnan(expected) and math.isnan(actual)
        if self.exact or math.isinf(expected) or math.isinf(actual):
            return expected == actual
        return abs(expected - actual) <= max(self.abs, self.rel * abs(expected))


@dataclass(frozen=True)
class AdapterInfo:
    """What an adapter declares about itself. See conformance/adapters/base.py."""

    name: str
    version: str
    schedulers: frozenset[str]
    features: frozenset[str] = frozenset()
    observables: frozenset[str] = frozenset()
    tolerance: Tolerance = Tolerance()
    # The torch release whose goldens this implementation should match. The torch adapter says the installed
    # release; other implementations usually say None, meaning the reference release.
    mirrors: str | None = None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "schedulers": sorted(self.schedulers),
            "features": sorted(self.features),
            "observables": sorted(self.observables),
            "tolerance": {"rel": self.tolerance.rel, "abs": self.tolerance.abs, "reason": self.tolerance.reason},
            "mirrors": self.mirrors,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AdapterInfo:
        """The protocol's adapterInfo object, read as it stands: validate it first (transport.py checks it
        against schemas/protocol.schema.json, then `declaration_problem` checks what the schema cannot)."""
        tol = data.get("tolerance") or {}
        return cls(
            name=str(data["name"]),
            version=str(data.get("version", "")),
            schedulers=frozenset(data.get("schedulers", ())),
            features=frozenset(data.get("features", ())),
            observables=frozenset(data.get("observables", ())),
            tolerance=Tolerance(float(tol.get("rel", 0.0)), float(tol.get("abs", 0.0)), str(tol.get("reason", "bit-exact"))),
            mirrors=data.get("mirrors"),
        )


def declaration_problem(info: AdapterInfo) -> str | None:
    """Why `info` (an adapter's declaration, in process or read from a hello answer) cannot be trusted to grade
    anything, or None: one line naming the field. A string where a set belongs would be read as a set of
    characters (a run of nothing but 'unsupported'); a tolerance that is negative, not finite, or not exact
    without a reason would grade with a meaning nobody declared - and be printed as 'bit-exact'."""
    for name in ("name", "version"):
        value = getattr(info, name)
        if not isinstance(value, str) or (name == "name" and not value.strip()):
            return f"{name} must be a non-empty string, got {value!r}" if name == "name" else \
                f"version must be a string, got {value!r}"
    for name, allowed in (("schedulers", None), ("features", FEATURES), ("observables", OBSERVABLES)):
        value = getattr(info, name)
        if isinstance(value, (str, bytes)) or not isinstance(value, (set, frozenset, list, tuple)):
            return f"{name} must be a set of strings, got {type(value).__name__} {value!r:.80}"
        odd = sorted(repr(v) for v in value if not isinstance(v, str) or (allowed is not None and v not in allowed))
        if odd:
            what = "not strings" if allowed is None else f"not one of {', '.join(allowed)}"
            return f"{name}: {', '.join(odd)[:120]} {'is' if len(odd) == 1 else 'are'} {what}"
    tol = info.tolerance
    if not isinstance(tol, Tolerance):
        return f"tolerance must be a Tolerance, got {type(tol).__name__}"
    for name in ("rel", "abs"):
        value = getattr(tol, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return f"tolerance.{name} must be a finite number >= 0, got {value!r}"
    if not isinstance(tol.reason, str):
        return f"tolerance.reason must be a string, got {tol.reason!r}"
    if not tol.exact and tol.reason.strip() in ("", "bit-exact"):
        return (f"tolerance rel {tol.rel:g}, abs {tol.abs:g} is not exact and gives no reason "
                "(a non-exact tolerance needs one)")
    if info.mirrors is not None and not (isinstance(info.mirrors, str) and _RELEASE.fullmatch(info.mirrors)):
        return f"mirrors must be a torch release such as '2.13.0' (or null), got {info.mirrors!r:.80}"
    return None


_RELEASE = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?([a-z0-9.]*)")


# --- results --------------------------------------------------------------------------------


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # trace differs from the golden
    ERROR = "error"  # the adapter raised (outside what the case expects)
    TIMEOUT = "timeout"
    CRASH = "crash"  # the adapter's process died
    UNSUPPORTED = "unsupported"  # the case needs a capability the adapter does not declare
    SKIP = "skip"  # the case does not apply to the release the adapter mirrors
    XFAIL = "xfail"  # differs, and the adapter's expectations file says so
    XPASS = "xpass"  # listed as expected to differ, but matches

    @property
    def bad(self) -> bool:
        return self in BAD_STATUSES


BAD_STATUSES = frozenset({Status.FAIL, Status.ERROR, Status.TIMEOUT, Status.CRASH, Status.XPASS})


@dataclass(frozen=True)
class Divergence:
    """The first place an actual trace departs from the expected one."""

    step: int
    group: int | None
    column: str  # "lr", "momentum", "last_lr", "event", "length"
    expected: Any
    actual: Any
    abs_error: float | None = None
    ulps: int | None = None
    max_abs_error: float | None = None  # over the whole trace, for the column that diverged
    # The first *large* divergence (relative error above compare.LARGE_RELATIVE_ERROR, or any event or length
    # divergence) when it is not this one: an exact grading reports a 1-ulp drift first and must not bury a
    # real jump later in the trace.
    first_large: Divergence | None = None


@dataclass(frozen=True)
class Outcome:
    case_id: str
    status: Status
    detail: str = ""  # one line
    divergence: Divergence | None = None
    missing: tuple[str, ...] = ()  # capabilities the adapter lacks (unsupported)
    expected_file: str = ""
    seconds: float = 0.0
    # Kept for outcomes that differ (fail, error, xfail) so reports can show and plot them; None otherwise.
    expected_trace: Trace | None = field(default=None, compare=False, repr=False)
    actual_trace: Trace | None = field(default=None, compare=False, repr=False)
