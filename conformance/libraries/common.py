"""Shared code for third-party library adapters, and the convention they follow.

Convention for a library adapter module, `conformance/libraries/<lib>.py` (optax, keras, mmengine, paddle,
timm, ...), so that `lr-conformance run --adapter <name>` finds it and tools/thirdparty.py can grade it and
generate docs/conformance-matrix.md and docs/porting/<lib>.md from it:

* Import the library lazily (inside the adapter's __init__ or methods): the module must import without it.
* `LIBRARY = "optax"` - the name the docs use for the library (docs/porting/<LIBRARY>.md).
* `INSTALL = "pip install 'lr-conformance[optax]'"` - what installs the library (an extra of pyproject.toml where
  there is one); `lr-conformance adapters` prints it, with the tox env named LIBRARY, when the library does not
  import - rather than whichever of its dependencies happened to be imported first.
* `PORTING = {torch scheduler name: Port(call, notes)}` - the porting guide, as data. One entry for each of
  the 16 torch schedulers (conformance.cases.SCHEDULERS):
    - `Port("optax.exponential_decay(init_value=lr, transition_steps=step_size, decay_rate=gamma, "
            "staircase=True)", "boundaries fall where torch's do; ...")`  - the call a careful person porting
      the torch schedule would write (placeholders are the torch kwarg names: `lr` is the group's lr), and
      the mapping rule / caveats in `notes`;
    - `Port(None, "the library has no cyclic schedule")` - no faithful equivalent, and why.
  An adapter declares a scheduler in `info.schedulers` only if PORTING has a call for it
  (`check_porting(PORTING, adapter.info)` returns the inconsistencies; use it in tests/meta).
* `INTERVENTIONS = {intervention: Port(call, notes)}` - the same for the interventions of spec 4.5 (keys:
  conformance.model.INTERVENTIONS, "skip-optimizer-step" ... "resume", and the two case-language elements of
  conformance.model.DECLARED_FEATURES, "on" and "load-twice"): how a user's loop does it with the
  library, or `Port(None, "why")` when the library has no such thing. An adapter declares an intervention's
  feature exactly when the table has a call for it (`expressed(INTERVENTIONS)` gives those features):
  what the library's API can express is graded, not declared away (`check_porting(PORTING, info,
  INTERVENTIONS)` checks both directions). docs/porting/<lib>.md prints the table.
* Adapter classes (`StatefulAdapter` / `FunctionAdapter` subclasses, zero-argument constructors). Variants
  of one library (float32 / float64) are separate classes or zero-argument subclasses of one class. Each class
  names its variant in a class attribute, `variant = "optax-float64"`, and uses it as `info.name`: readable
  without the library, so `lr-conformance adapters` names the class's expectations even where it cannot load.
* Expectations: `expectations/<variant>.toml` (see conformance/expectations.py; the variant is the adapter's
  `info.name`), one per adapter class, with each known difference: case id, reason (first differing step +
  cause in the library's source), link. They ship in the wheel: `--expectations <variant>` names one.
* Register each adapter class by name: an entry point in group `lr_conformance.adapters` in pyproject.toml
  (`paddle64 = "conformance.libraries.paddle:Paddle64"`) and the same line in
  `conformance.adapters.BUILTIN` (for a checkout that was never installed; a test keeps them equal), and a
  `Variant` in `REGISTRY` in tools/thirdparty.py (variant name, library, adapter name, environment variables
  to set). `python tools/thirdparty.py` then runs every importable variant (`lr-conformance run --adapter
  <name> --json ...`) and rewrites the generated docs.

Per-case "unsupported": when the library has the scheduler but not the case's configuration (a kwarg with
no faithful equivalent), raise `conformance.adapters.base.Unsupported("why")` from build()/lrs_at(); the
runner records the case as UNSUPPORTED with that reason (never a failure).

Helpers here: TORCH_DEFAULTS / kwargs_of (a case's kwargs over torch's defaults), only_kwargs (Unsupported for
any non-default kwarg the mapping does not handle), per_group / uniform (per-group kwargs), group_lrs,
onecycle_phases (torch OneCycleLR's phase ends as whole steps), rejected_as_unsupported (a library ValueError
for a configuration torch accepts -> Unsupported), ScheduleSession (a Session over pure functions of the step
count, for schedule-function libraries inside a StatefulAdapter that also has stateful plateau sessions).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from conformance.adapters.base import Session, Unsupported
from conformance.model import DECLARED_FEATURES, INTERVENTION_FEATURES, AdapterInfo, Case, SchedulerSpec, Tolerance

__all__ = [
    "FLOAT32_CLOSED_FORMS",
    "FLOAT64_CLOSED_FORMS",
    "TORCH_DEFAULTS",
    "Port",
    "ScheduleSession",
    "TorchOptimizerSession",
    "Unsupported",
    "check_porting",
    "expressed",
    "group_lrs",
    "kwargs_of",
    "library_info",
    "onecycle_phases",
    "onecycle_points",
    "only_kwargs",
    "per_group",
    "ported",
    "rejected_as_unsupported",
    "uniform",
]

# torch.optim.lr_scheduler's (and SWALR's) constructor defaults (torch 2.13; `last_epoch=-1` everywhere, left out), so an
# adapter sees every argument a case leaves implicit without importing torch.
TORCH_DEFAULTS: dict[str, dict] = {
    "LambdaLR": {},
    "MultiplicativeLR": {},
    "StepLR": {"gamma": 0.1},
    "MultiStepLR": {"gamma": 0.1},
    "ConstantLR": {"factor": 1.0 / 3, "total_iters": 5},
    "LinearLR": {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": 5},
    "ExponentialLR": {},
    "PolynomialLR": {"total_iters": 5, "power": 1.0},
    "CosineAnnealingLR": {"eta_min": 0.0},
    "ChainedScheduler": {},
    "SequentialLR": {},
    "ReduceLROnPlateau": {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel",
                          "cooldown": 0, "min_lr": 0, "eps": 1e-8},
    "CyclicLR": {"step_size_up": 2000, "step_size_down": None, "mode": "triangular", "gamma": 1.0, "scale_fn": None,
                 "scale_mode": "cycle", "cycle_momentum": True, "base_momentum": 0.8, "max_momentum": 0.9},
    "CosineAnnealingWarmRestarts": {"T_mult": 1, "eta_min": 0.0},
    "OneCycleLR": {"total_steps": None, "epochs": None, "steps_per_epoch": None, "pct_start": 0.3,
                   "anneal_strategy": "cos", "cycle_momentum": True, "base_momentum": 0.85, "max_momentum": 0.95,
                   "div_factor": 25.0, "final_div_factor": 1e4, "three_phase": False},
    "SWALR": {"anneal_epochs": 10, "anneal_strategy": "cos"},  # torch.optim.swa_utils
}

# What an INTERVENTIONS table has an entry for: each intervention kind, and the elements of DECLARED_FEATURES
TABLE_FEATURES = {**INTERVENTION_FEATURES, **DECLARED_FEATURES}


@dataclass(frozen=True)
class Port:
    """How to reproduce one torch scheduler with a library: `call` (None = no faithful equivalent) and
    `notes` (the mapping rule, the caveats, or why there is no equivalent)."""

    call: str | None
    notes: str = ""


@dataclass(frozen=True)
class Difference:
    """One difference a port note or expectations reason describes, and the suite's cases that show it (each
    listed, with its cause, in the library's expectations files): a module's DIFFERENCES table is the reviewed
    map from what the documents say to where it is pinned (tests/meta/test_documented_differences.py)."""

    scheduler: str
    what: str  # one line
    cases: tuple[str, ...]


def ported(porting: Mapping[str, Port]) -> frozenset[str]:
    """The torch schedulers a PORTING table has a call for: what an adapter may declare in info.schedulers."""
    return frozenset(name for name, port in porting.items() if port.call is not None)


def expressed(interventions: Mapping[str, Port]) -> frozenset[str]:
    """The features of the interventions (spec 4.5) an INTERVENTIONS table has a call for: what the adapter
    declares for them."""
    return frozenset(TABLE_FEATURES[do] for do, port in interventions.items()
                     if do in TABLE_FEATURES and port.call is not None)


def check_porting(porting: Mapping[str, Port], info: AdapterInfo,
                  interventions: Mapping[str, Port] | None = None) -> list[str]:
    """Inconsistencies between a module's PORTING (and INTERVENTIONS) table and what an adapter declares
    (empty = consistent)."""
    from conformance.cases import SCHEDULERS

    problems = [f"PORTING has no entry for {name}" for name in SCHEDULERS if name not in porting]
    problems += [f"PORTING names unknown scheduler {name}" for name in porting if name not in SCHEDULERS]
    problems += [
        f"{info.name} declares {name} but PORTING has no call for it"
        for name in sorted(info.schedulers)
        if porting.get(name, Port(None)).call is None
    ]
    if interventions is None:
        return problems
    problems += [f"INTERVENTIONS has no entry for {do}" for do in TABLE_FEATURES if do not in interventions]
    problems += [f"INTERVENTIONS names unknown intervention {do}" for do in interventions
                 if do not in TABLE_FEATURES]
    declared = info.features & frozenset(TABLE_FEATURES.values())
    problems += [f"{info.name} declares {feature} but INTERVENTIONS has no call for it"
                 for feature in sorted(declared - expressed(interventions))]
    problems += [f"INTERVENTIONS has a call for the {feature} intervention but {info.name} does not declare it"
                 for feature in sorted(expressed(interventions) - declared)]
    return problems


def kwargs_of(spec: SchedulerSpec) -> dict:
    """The scheduler's kwargs over torch's defaults (TORCH_DEFAULTS)."""
    return {**TORCH_DEFAULTS.get(spec.name, {}), **spec.kwargs}


def sequential_stretches(spec: SchedulerSpec, steps: int, library: str, port) -> list:
    """SequentialLR as a library that joins schedules end to end: [(schedule, n)], each child ported by
    `port(child, length)` -> (schedule, n) for the stretch its milestones give it. A child whose stretch is empty
    is skipped (torch never steps it), the last one runs to the end of the run; a port that needs another length
    than its stretch (but the last) is Unsupported, as are unsorted milestones (torch bisects the list as given;
    joined stretches follow one another)."""
    milestones = list(only_kwargs(spec, {"milestones"})["milestones"])
    if milestones != sorted(milestones):
        raise Unsupported(f"SequentialLR(milestones={milestones}): not ascending")
    bounds = [0] + milestones + [None]
    pieces = []
    for i, child in enumerate(spec.children):
        start, stop = bounds[i], bounds[i + 1]
        last = i == len(spec.children) - 1
        length = steps - start if last else stop - start
        if length <= 0:
            if last:
                raise Unsupported("SequentialLR: the last child starts after the run's end")
            continue
        schedule, n = port(child, length)
        if n != length and not last:
            raise Unsupported(f"SequentialLR: {child.name}'s {library} port needs {n} steps, its stretch has "
                              f"{length}")
        pieces.append((schedule, n))
    return pieces


def only_kwargs(spec: SchedulerSpec, allowed) -> dict:
    """kwargs_of(spec), raising Unsupported for any kwarg outside `allowed` that the case sets to something
    other than torch's default (a configuration the library cannot express)."""
    defaults = TORCH_DEFAULTS.get(spec.name, {})
    for key, value in spec.kwargs.items():
        if key not in allowed and not (key in defaults and defaults[key] == value):
            raise Unsupported(f"{spec.name}({key}={value!r}) has no equivalent")
    return kwargs_of(spec)


@contextmanager
def rejected_as_unsupported(library: str):
    """Around the library's constructor calls (only those): a ValueError the library raises for a
    configuration torch accepts (e.g. keras' `decay_steps` must be > 0, torch's total_iters may be 0) means the
    library has no such configuration - Unsupported with the library's message. (Cases where torch raises too
    need the `errors` feature and never get this far.)"""
    try:
        yield
    except ValueError as exc:
        raise Unsupported(f"{library} rejects this configuration: {exc}") from exc


def per_group(value, groups: int, name: str = "value") -> list:
    """A torch kwarg that is either one value or a list/tuple with one value per param group, as a list."""
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise Unsupported(f"{name} has {len(value)} values for {groups} param groups")
        return list(value)
    return [value] * groups


def uniform(value, groups: int, name: str):
    """A per-group kwarg that the library only takes once for all groups: its single value, or Unsupported."""
    values = per_group(value, groups, name)
    if any(v != values[0] for v in values):
        raise Unsupported(f"{name}={value!r} differs between param groups; the library takes one value")
    return values[0]


def onecycle_phases(kwargs: Mapping, where: str = "OneCycleLR") -> tuple[int, list[int]]:
    """torch OneCycleLR's total_steps and its phase end steps as integers (torch computes them as floats:
    `pct_start * total_steps - 1`, `2 * pct_start * total_steps - 2`, `total_steps - 1`). Libraries place
    boundaries on integer steps, so a boundary that falls between steps (pct_start * total_steps not
    integral, beyond float rounding) has no faithful equivalent: Unsupported."""
    total = kwargs.get("total_steps")
    if total is None:
        if kwargs.get("epochs") is None or kwargs.get("steps_per_epoch") is None:
            raise Unsupported(f"{where}: needs total_steps, or epochs and steps_per_epoch")
        total = kwargs["epochs"] * kwargs["steps_per_epoch"]
    raw = [float(kwargs["pct_start"] * total) - 1, float(total - 1)]
    if kwargs.get("three_phase"):
        raw.insert(1, float(2 * kwargs["pct_start"] * total) - 2)
    ends = [round(x) for x in raw]
    if any(abs(x - e) > 1e-9 * max(1.0, abs(x)) for x, e in zip(raw, ends)):
        raise Unsupported(f"{where}: phase boundaries {raw} fall between steps")
    return int(total), ends


def onecycle_points(kwargs: Mapping, max_lr: float) -> list[float]:
    """The lrs torch's OneCycleLR anneals between, phase by phase: max_lr / div_factor, max_lr, (max_lr /
    div_factor again with three_phase,) then that divided by final_div_factor."""
    initial = max_lr / kwargs["div_factor"]
    low = initial / kwargs["final_div_factor"]
    return [initial, max_lr, initial, low] if kwargs["three_phase"] else [initial, max_lr, low]


def library_info(name: str, distribution: str, porting: Mapping[str, Port], tolerance: Tolerance,
                 features=frozenset()) -> AdapterInfo:
    """The AdapterInfo of a library adapter: its installed version (importlib.metadata) and the schedulers its
    PORTING table has a call for."""
    from importlib.metadata import version

    return AdapterInfo(name=name, version=version(distribution), schedulers=ported(porting),
                       features=frozenset(features), tolerance=tolerance)


# torch schedulers whose lrs are closed forms of base_lrs rather than a recursion on the group's lr
# The float32 variants of the libraries whose schedules are closed forms computed in float32 (optax, keras).
FLOAT32_CLOSED_FORMS = Tolerance(
    rel=2e-5,
    abs=1e-7,
    reason="float32 (eps 1.2e-7): constants such as gamma are rounded to float32 (rel 6e-8) and raised to the "
           "step count, so gamma ** n carries n * 6e-8 (1.2e-5 at n = 200); abs 1e-7 (~1 float32 ulp of 1.0) for "
           "values cancelling to ~0 at the end of a cosine, lrs <= 1",
)

# The float64 libraries whose schedules are closed forms in Python floats (fvcore, pytorch-optimizer): the same
# justification as the float64 variants of optax, keras and paddle, written once for the adapters that share it.
FLOAT64_CLOSED_FORMS = Tolerance(
    rel=1e-14,
    abs=4.4e-16,
    reason="float64: the library's closed forms (cos, powers, linear interpolation of the step or of a progress "
           "fraction) against torch's recursive products, whose rounding walks ~1 ulp per step: rel 1e-14 (~45 "
           "ulp) as for the other float64 libraries; abs 4.4e-16 (2 ulp of 1.0) for values cancelling to ~0 at "
           "the end of a cosine, lrs <= 1",
)

BASE_LR_CLOSED_FORMS = frozenset({"LambdaLR", "CosineAnnealingWarmRestarts"})


def group_lrs(case: Case) -> list[float]:
    """The lr each param group's schedule starts from, as torch's: a group's leftover initial_lr (an earlier
    scheduler's) is torch's base lr - LRScheduler.__init__ keeps it - and SequentialLR sets the lr to it at
    construction, so schedules of base_lrs start from it; the recursive schedulers start from the group's lr."""
    top = case.scheduler.name
    from_base = top in BASE_LR_CLOSED_FORMS or top == "SequentialLR"
    return [float(group["initial_lr"] if from_base and "initial_lr" in group else group["lr"])
            for group in case.groups]


class TorchOptimizerSession(Session):
    """A Session over a real torch optimizer whose groups' lrs a library scheduler sets (pytorch-optimizer,
    DeepSpeed): the lr is what the optimizer applies; the scheduler is stepped as torch's, after the optimizer."""

    def __init__(self, optimizer, scheduler) -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler

    def lrs(self):
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def optimizer_step(self) -> None:
        self.optimizer.step()

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if epoch is not None:
            raise Unsupported("step(epoch) is not graded")
        self.scheduler.step()


class ScheduleSession(Session):
    """A Session over pure functions of the step count (optax schedules, keras LearningRateSchedules):
    `lr_fn(n)` / `momentum_fn(n)` return the per-group values after n steps; n counts what the library's
    schedule is evaluated at. With `by_updates` that is the optimizer's update count (optax inject_hyperparams'
    `count`, keras `optimizer.iterations`): it advances with optimizer_step, so a skipped update (optax
    apply_if_finite, keras LossScaleOptimizer on overflow) does not advance the schedule, and there is no
    scheduler to step. Without it, scheduler steps count. Only the standard protocol makes sense for it."""

    def __init__(self, lr_fn, momentum_fn=None, by_updates: bool = False) -> None:
        self.lr_fn = lr_fn
        self.momentum_fn = momentum_fn
        self.by_updates = by_updates
        self.count = 0

    def lrs(self):
        return self.lr_fn(self.count)

    def momenta(self):
        return None if self.momentum_fn is None else self.momentum_fn(self.count)

    def optimizer_step(self) -> None:
        if self.by_updates:
            self.count += 1

    def scheduler_step(self, metric=None, epoch=None) -> None:
        if epoch is not None:
            raise Unsupported("a pure function of the step count cannot be stepped to an explicit epoch")
        if not self.by_updates:
            self.count += 1

    def set_group(self, group, key, value) -> None:
        raise Unsupported("the lr is the schedule's value at the update count, evaluated at every update: "
                          "there is no stored lr to set")
