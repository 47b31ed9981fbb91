"""Hypothesis strategies over the whole case language: they draw case *data* (the dict a `[[case]]` table
holds, golden/cases/README.md) and `cases.parse_case` turns it into an ordinary `Case`, through the same
validation as a case file - so the fuzzer and the case language have one definition.

What is drawn, per case:
  * a scheduler tree: any of the 16 schedulers at the top; composites (SequentialLR, ChainedScheduler) with
    1-3 children of any kind in any position, composites nested up to 3 levels deep;
  * every constructor argument of each scheduler, from small pools that put boundaries first (0, 1,
    total_iters / T_max / milestones inside the trace, factors at their limits, per-group lists) and, in
    a third of the cases, also invalid values (negative, out-of-range or wrongly sized); optional
    arguments are often left out, so that shrinking removes what a finding does not need;
  * 1-3 param groups with their own lr, momentum / betas and `initial_lr`; SGD (with or without momentum),
    Adam (with or without betas), Adagrad (neither); optionally 0-dim tensor lrs;
  * a step protocol: standard, scheduler-first (also around a resume), resume-state-dict at any iteration,
    step-epoch with integer, fractional, repeated and backward epochs; `last_epoch = k` on any scheduler
    that takes it, with or without `initial_lr` in the groups;
  * ReduceLROnPlateau metrics as a walk over a small pool: ties, exact threshold boundaries (best * (1 -
    threshold), best + threshold, ...), long plateaus and nan / inf / -inf are all frequent;
  * in about one case in INTERVENTION_ODDS + 1, interventions (docs/spec.md 4.5): 1-4 actions at any
    iteration (0 first), the common ones (skip-optimizer-step, scheduler-steps, set, call) three times as often
    as the rare ones (wrap-optimizer-step, add-param-group, add-scheduler, resume). `Scope.interventions`
    (`fuzz --intervention`) targets kinds instead: every case then has at least one action, of those kinds only.

Interventions are drawn last, after everything else, and the choice whether a case has any is one draw: a
case's earlier draws are the choices they were before interventions existed (hypothesis' later examples of a
seed still shift once one draws more), and shrinking deletes actions one at a time (each action is one span of
draws, and a case without it is still valid).

The draws are limited to what both implementations under test can express (`Scope`): schedulers both
declare, protocols and features both declare. Sizes stay far inside the case language's bounds: steps <=
`Scope.max_steps` (40 by default), <= 3 groups, <= 3 children per composite, composites nested <= 3 deep.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from hypothesis import strategies as st

from conformance.cases import COMPOSITES, SCHEDULERS
from conformance.model import (
    FEATURES,
    INTERVENTION_FEATURES,
    INTERVENTIONS,
    READABLE_ATTRIBUTES,
    SETTABLE_ATTRIBUTES,
    has_attribute,
)

# The id a drawn case carries while it is being fuzzed; a finding gets its real id (conformance/fuzz/emit.py).
DRAFT_ID = "fuzz/draft"

MAX_GROUPS = 3
MAX_CHILDREN = 3
MAX_DEPTH = 3  # levels of composites: a SequentialLR in a ChainedScheduler in a SequentialLR
DEFAULT_MAX_STEPS = 40

# Schedulers whose constructor takes `last_epoch` (ChainedScheduler and ReduceLROnPlateau do not).
TAKES_LAST_EPOCH = frozenset(SCHEDULERS) - {"ChainedScheduler", "ReduceLROnPlateau"}

# How often each scheduler is drawn at the top, relative to the others: its number of constructor arguments
# besides the optimizer and last_epoch, at most 4 - a scheduler with more arguments has more behaviour to
# cover (ReduceLROnPlateau: 8 arguments and a metric walk; ExponentialLR: gamma).
WEIGHT = {"LambdaLR": 1, "MultiplicativeLR": 1, "StepLR": 2, "MultiStepLR": 2, "ConstantLR": 2, "LinearLR": 3,
          "ExponentialLR": 1, "PolynomialLR": 2, "CosineAnnealingLR": 2, "ChainedScheduler": 2, "SequentialLR": 2,
          "ReduceLROnPlateau": 4, "CyclicLR": 4, "CosineAnnealingWarmRestarts": 3, "OneCycleLR": 4,
          "SWALR": 3}

# Pools, simplest first: hypothesis shrinks a sampled value towards the start of its pool.
LRS = (0.1, 0.05, 1.0, 0.01, 0.5, 0.0, 1e-8)
GAMMAS = (0.5, 0.1, 0.9, 1.0, 0.0, 2.0)
FACTORS = (0.5, 0.25, 0.1, 1.0, 0.0)  # ConstantLR / LinearLR factors, inside (or at the edge of) [0, 1]
BAD_FACTORS = (1.5, -0.1, -1.0)
ETA_MINS = (0.0, 0.001, 0.01, 0.2, 1.0)  # 0.2 and 1.0 sit above most lrs: the schedule runs upwards
MOMENTA = (0.9, 0.0, 0.8, 0.95, 0.99)
THRESHOLDS = (0.5, 0.25, 0.1, 0.0, 1e-4)
METRICS = (1.0, 0.5, 0.25, 0.75, 2.0, 0.0, -1.0, 0.9)
NONFINITE = (math.nan, math.inf, -math.inf)
LAST_EPOCHS = (1, 2, 3, 0, 4, 5, 7, 12)

# Interventions (spec 4.5). Untargeted, a case has some once in INTERVENTION_ODDS + 1 (modest: most cases stay
# the textbook loop the rest of the language varies), and then each action goes on to another one time in
# two, up to MAX_ACTIONS. The rare kinds model rarer loops and cost more to run (a second scheduler, a
# checkpoint round trip): a third of the common kinds' weight, and `Scope.interventions` to aim at them.
INTERVENTION_ODDS = 7
MAX_ACTIONS = 4
COMMON_INTERVENTIONS = ("skip-optimizer-step", "scheduler-steps", "set", "call")
RARE_INTERVENTIONS = ("wrap-optimizer-step", "add-param-group", "add-scheduler", "resume")
# Drawn only when targeted (`fuzz --intervention read-scheduler`): in the untargeted pool they would move every
# seeded draw after them, and the seed-calibrated spans of tests/meta/test_fuzz.py (800 cases at seed 0 reach every
# top scheduler) no longer hold; re-calibrating those is left for a change of its own.
TARGETED_ONLY_INTERVENTIONS = ("read-scheduler", "set-scheduler", "change-argument")
SCHEDULER_STEP_COUNTS = (0, 2, 3)  # 1 is what an iteration does anyway
T_CURS = (0, 1, 2, 7, 2.5)  # set-scheduler T_cur: at a restart, inside the period, past it, fractional
FACTORS = (0.1, 0.5, 2.0)  # change-argument multiply: torch's tests' 0.1 and 0.5, and a growth
LOADS = ((), ("optimizer",), ("scheduler",), ("scheduler", "optimizer"), ("optimizer", "scheduler"))
# A state dict loaded twice (spec 4.5, feature reused_state_dict): drawn only when resume is targeted, for the
# reason of TARGETED_ONLY_INTERVENTIONS (the untargeted pool, and so its seed-calibrated spans, stay as they were)
RELOADS = (("optimizer", "scheduler", "scheduler"), ("scheduler", "scheduler"), ("optimizer", "optimizer", "scheduler"))


@dataclass(frozen=True)
class Scope:
    """What the drawn cases may use: the schedulers and features both implementations declare.

    `top` restricts the top-level scheduler (`fuzz --scheduler`); composites then draw their children from
    all of `schedulers`. `interventions` targets intervention kinds (`fuzz --intervention`): every case has
    at least one action, of those kinds only (empty: any kind both declare, now and then)."""

    schedulers: frozenset[str]
    features: frozenset[str] = frozenset(FEATURES)
    top: frozenset[str] = field(default=frozenset())
    max_steps: int = DEFAULT_MAX_STEPS
    interventions: frozenset[str] = field(default=frozenset())

    @property
    def tops(self) -> tuple[str, ...]:
        """The top-level schedulers, each repeated by its WEIGHT (a pool to sample from)."""
        chosen = self.top or self.schedulers
        return tuple(name for name in SCHEDULERS if name in chosen and self.allows(name)
                     for _ in range(WEIGHT.get(name, 1)))

    def allows(self, scheduler: str) -> bool:
        if scheduler not in self.schedulers:
            return False
        return scheduler != "ReduceLROnPlateau" or "plateau" in self.features

    def has(self, feature: str) -> bool:
        return feature in self.features

    def declares(self, do: str) -> bool:
        """Whether both sides declare what intervention `do` needs."""
        return all(self.has(feature) for feature in intervention_needs(do))

    @property
    def intervention_kinds(self) -> tuple[str, ...]:
        """The kinds of action to sample from: the targeted ones, or every declared kind with its weight."""
        if self.interventions:
            return tuple(do for do in INTERVENTIONS if do in self.interventions and self.declares(do))
        return tuple(do for do in COMMON_INTERVENTIONS * 3 + RARE_INTERVENTIONS if self.declares(do))


def intervention_needs(do: str) -> tuple[str, ...]:
    """The features an intervention needs (spec 4.5): its own, and `state_dict` for a (partial) resume."""
    return (INTERVENTION_FEATURES[do],) + (("state_dict",) if do == "resume" else ())


def scope_for(reference_info, candidate_info, top: Iterable[str] = (), max_steps: int = DEFAULT_MAX_STEPS,
              interventions: Iterable[str] = ()) -> Scope:
    """The Scope two adapters share: the schedulers and features both declare."""
    return Scope(
        schedulers=frozenset(reference_info.schedulers) & frozenset(candidate_info.schedulers),
        features=frozenset(reference_info.features) & frozenset(candidate_info.features),
        top=frozenset(top),
        max_steps=max_steps,
        interventions=frozenset(interventions),
    )


# --- building blocks ------------------------------------------------------------------------

# Strategy objects are built once per distinct argument: hypothesis validates and labels each new strategy
# object on its first draw, which costs more than the draw itself (measured: about 3x faster generation).


_STRATEGIES: dict = {}


def _one_of(values) -> st.SearchStrategy:
    # keyed by repr: (0, 1) and (False, True) are equal tuples but not the same pool
    key = ("one_of", repr(tuple(values)))
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.sampled_from(tuple(values))
    return _STRATEGIES[key]


def _between(low: int, high: int) -> st.SearchStrategy:
    key = ("between", low, high)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.integers(low, high)
    return _STRATEGIES[key]


def _steps_of(moves, goes_on: int = 13) -> st.SearchStrategy:
    """One step of a walk as one draw: (go on after it?, its move). Go on `goes_on` times in `goes_on + 1`
    (13: walks of about 14 steps; hypothesis' own lists average 6), and (stop, first move) comes first, so
    shrinking shortens walks and deleting the draw deletes the step."""
    key = ("step of", repr(tuple(moves)), goes_on)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.sampled_from(tuple((more, move) for more in (False,) + (True,) * goes_on
                                                 for move in moves))
    return _STRATEGIES[key]


def _int_lists(low: int, high: int, min_size: int, max_size: int) -> st.SearchStrategy:
    key = ("lists", low, high, min_size, max_size)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.lists(st.integers(low, high), min_size=min_size, max_size=max_size)
    return _STRATEGIES[key]


class _Draw:
    """The per-case context every argument strategy needs: hypothesis' draw, the scope, the number of
    param groups, and whether this case may hold invalid values.

    Two rules keep shrinking effective. The simplest value of every draw comes first (hypothesis shrinks
    a choice towards index 0): "left out", "no", the first pool entry. And a decision never changes how many
    draws follow it where that can be avoided (draw, then ignore), so that simplifying one choice does not
    shift every later one. One draw per decision, too: each costs as much as a few scheduler steps."""

    def __init__(self, draw, scope: Scope, groups: int, invalid: bool) -> None:
        self.draw, self.scope, self.groups, self.invalid = draw, scope, groups, invalid

    def pick(self, valid, bad=()):
        """A value from `valid`, or - in a case that may be invalid - from `valid + bad`."""
        return self.draw(_one_of(tuple(valid) + (tuple(bad) if self.invalid else ())))

    def maybe(self, values, bad=()):
        """Left out (None) or a value from `values` (or `bad`, as `pick`)."""
        return self.draw(_one_of((None,) + tuple(values) + (tuple(bad) if self.invalid else ())))

    def rarely(self, values, odds: int = 4):
        """None, or (about once in `odds + 1` draws) a value from `values`."""
        return self.draw(_one_of((None,) * (odds * len(values)) + tuple(values)))

    def flag(self, odds: int = 1) -> bool:
        """False, or (once in `odds + 1` draws) True."""
        return self.draw(_one_of((False,) * odds + (True,)))

    def count(self, low: int, high: int, bad=()):
        """An integer in [low, high], or (in a case that may be invalid) one of `bad`."""
        return self.pick(range(low, high + 1), bad)

    def per_group(self, values):
        """One value, or a list with one value per group (in an invalid case sometimes one too many)."""
        single, extra = self.pick(values), self.flag(3) and self.invalid
        if not self.flag():
            return single
        return [single] + [self.pick(values) for _ in range(self.groups - 1 + extra)]


def _put(kwargs: dict, key: str, value) -> None:
    if value is not None:
        kwargs[key] = value


def _given(**values) -> dict:
    """The values that are not None (left out: the key's default)."""
    return {key: value for key, value in values.items() if value is not None}


FUNCTIONS = (  # vocabulary specs (conformance/vocabulary.py), parameters from small pools
    lambda d: {"fn": "constant", "value": d.pick((0.5, 1.0, 0.9, 0.0, 2.0))},
    lambda d: {"fn": "exponential", "gamma": d.pick((0.9, 0.5, 1.0))},
    lambda d: {"fn": "step_decay", "step_size": d.count(1, 4), "gamma": d.pick((0.5, 0.1))},
    lambda d: {"fn": "linear_warmup", "warmup": d.count(1, 5)},
    lambda d: {"fn": "inverse_sqrt", "warmup": d.count(1, 5)},
    lambda d: {"fn": "constant_then_linear_decay", "n_epochs": d.count(1, 5), "n_epochs_decay": d.count(0, 5)},
    lambda d: {"fn": "floor_div", "divisor": d.count(1, 4, bad=(0,))},
    lambda d: {"fn": "halving"},
    lambda d: {"fn": "power", "gamma": d.pick((0.8, 0.5))},
    lambda d: {"fn": "call_count_decay", "gamma": d.pick((0.9, 0.5))},
)


def _function(d: _Draw) -> dict:
    return d.draw(_one_of(FUNCTIONS))(d)


def _lr_lambda(d: _Draw):
    """One function for every group, or a list with one per group (in an invalid case one too many or few)."""
    first, wrong = _function(d), d.flag(3) and d.invalid
    if not d.flag():
        return first
    size = d.groups + (d.pick((1, -1)) if wrong else 0)
    return [first] + [_function(d) for _ in range(max(size, 1) - 1)]


# --- one constructor per scheduler: its kwargs ----------------------------------------------


def _lambda_kwargs(d: _Draw) -> dict:
    return {"lr_lambda": _lr_lambda(d)}


def _step_kwargs(d: _Draw) -> dict:
    kwargs = {"step_size": d.count(1, 6, bad=(0, -1))}
    _put(kwargs, "gamma", d.maybe(GAMMAS))
    return kwargs


def _multistep_kwargs(d: _Draw) -> dict:
    # unsorted and repeated milestones are valid (torch counts repeats); 0 and milestones past the trace too
    kwargs = {"milestones": d.draw(_int_lists(0, 12, 0, 4))}
    _put(kwargs, "gamma", d.maybe(GAMMAS))
    return kwargs


def _constant_kwargs(d: _Draw) -> dict:
    kwargs: dict = {}
    _put(kwargs, "factor", d.maybe(FACTORS, bad=BAD_FACTORS))
    _put(kwargs, "total_iters", d.maybe(range(0, 9)))
    return kwargs


def _linear_kwargs(d: _Draw) -> dict:
    kwargs: dict = {}
    _put(kwargs, "start_factor", d.maybe(FACTORS, bad=BAD_FACTORS))
    _put(kwargs, "end_factor", d.maybe((1.0, 0.5, 0.0, 0.25), bad=(1.5, -0.5)))
    _put(kwargs, "total_iters", d.maybe(range(0, 9)))
    return kwargs


def _exponential_kwargs(d: _Draw) -> dict:
    return {"gamma": d.pick(GAMMAS, bad=(-0.5,))}


def _polynomial_kwargs(d: _Draw) -> dict:
    kwargs: dict = {}
    _put(kwargs, "total_iters", d.maybe(range(0, 9)))
    _put(kwargs, "power", d.maybe((1.0, 2.0, 0.5, 0.0), bad=(-1.0,)))
    return kwargs


def _cosine_kwargs(d: _Draw) -> dict:
    kwargs = {"T_max": d.count(1, 10, bad=(0, -1))}
    _put(kwargs, "eta_min", d.maybe(ETA_MINS))
    return kwargs


def _plateau_kwargs(d: _Draw) -> dict:
    kwargs: dict = {}
    _put(kwargs, "mode", d.maybe(("max",), bad=("minimum",)))
    _put(kwargs, "factor", d.maybe((0.5, 0.1, 0.2), bad=(1.0, 1.5)))
    # 0 before "left out": the default patience of 10 makes every finding at least 12 steps long
    _put(kwargs, "patience", d.pick((0, None, 1, 2, 3, 4)))
    _put(kwargs, "threshold", d.maybe(THRESHOLDS))
    _put(kwargs, "threshold_mode", d.maybe(("abs",), bad=("relative",)))
    _put(kwargs, "cooldown", d.maybe(range(0, 4)))
    _put(kwargs, "min_lr", d.per_group((0.02, 0.001, 0.0)) if d.flag() else None)
    _put(kwargs, "eps", d.maybe((0.05, 0.0, 1e-8)))
    return kwargs


def _momentum_kwargs(d: _Draw, kwargs: dict, base=(0.8, 0.85, 0.5), top=(0.9, 0.95, 0.99)) -> None:
    """cycle_momentum and its range (CyclicLR, OneCycleLR); off when the scope has no `momentum`."""
    if not d.scope.has("momentum"):
        kwargs["cycle_momentum"] = False
        return
    _put(kwargs, "cycle_momentum", d.maybe((False, True)))
    if kwargs.get("cycle_momentum", True):
        _put(kwargs, "base_momentum", d.per_group(base) if d.flag() else None)
        _put(kwargs, "max_momentum", d.per_group(top) if d.flag() else None)


def _cyclic_kwargs(d: _Draw) -> dict:
    kwargs = {"base_lr": d.per_group((0.001, 0.01, 0.1)), "max_lr": d.per_group((0.01, 0.1, 1.0, 0.001)),
              "step_size_up": d.count(1, 5, bad=(0,))}
    _put(kwargs, "step_size_down", d.maybe(range(1, 6)))
    _put(kwargs, "mode", d.maybe(("triangular2", "exp_range", "triangular"), bad=("sawtooth",)))
    _put(kwargs, "gamma", d.maybe((0.9, 0.5, 1.0)))
    if d.flag():
        kwargs["scale_fn"] = _function(d)
        _put(kwargs, "scale_mode", d.maybe(("iterations", "cycle"), bad=("epochs",)))
    _momentum_kwargs(d, kwargs)
    return kwargs


def _warm_restarts_kwargs(d: _Draw) -> dict:
    kwargs = {"T_0": d.count(1, 6, bad=(0, 2.5))}
    _put(kwargs, "T_mult", d.maybe((2, 1, 3), bad=(0, 1.5)))
    _put(kwargs, "eta_min", d.maybe(ETA_MINS))
    return kwargs


def _onecycle_kwargs(d: _Draw) -> dict:
    kwargs: dict = {"max_lr": d.per_group((0.1, 1.0, 0.01))}
    if d.flag():
        kwargs["epochs"] = d.count(1, 5, bad=(0,))
        kwargs["steps_per_epoch"] = d.count(1, 8, bad=(0,))
    else:
        kwargs["total_steps"] = d.count(1, d.scope.max_steps + 2, bad=(0,))
    _put(kwargs, "pct_start", d.maybe((0.25, 0.5, 0.3, 0.1, 0.0, 1.0), bad=(-0.1, 1.5, 1)))
    _put(kwargs, "anneal_strategy", d.maybe(("linear", "cos"), bad=("exp",)))
    _momentum_kwargs(d, kwargs, base=(0.85, 0.8, 0.5), top=(0.95, 0.9, 0.99))
    _put(kwargs, "div_factor", d.maybe((25.0, 10.0, 1.0)))
    _put(kwargs, "final_div_factor", d.maybe((1e4, 100.0, 1.0)))
    _put(kwargs, "three_phase", d.maybe((True, False)))
    return kwargs


def _swalr_kwargs(d: _Draw) -> dict:
    # swa_lr above the lrs too (the anneal then runs upwards); anneal_epochs 0 and 1 are the boundaries of
    # its max(1, ...) clamps; a non-integer or negative anneal_epochs, an unknown strategy and one swa_lr too
    # many are its ValueErrors
    kwargs = {"swa_lr": d.per_group((0.01, 0.05, 0.0, 0.5, 1.0))}
    _put(kwargs, "anneal_epochs", d.maybe(range(0, 9), bad=(-1, 1.5)))
    _put(kwargs, "anneal_strategy", d.maybe(("linear", "cos"), bad=("exp",)))
    return kwargs


def _sequential_kwargs(d: _Draw, children: int) -> dict:
    if d.flag(3) and d.invalid:  # wrongly many milestones, or unsorted ones
        milestones = d.draw(_int_lists(0, 12, 0, 3))
    else:
        milestones = sorted(d.draw(_int_lists(0, 12, max(children - 1, 0), max(children - 1, 0))))
    return {"milestones": milestones}


def _chained_kwargs(d: _Draw) -> dict:
    return {"optimizer": True} if d.flag() else {}


KWARGS = {
    "LambdaLR": _lambda_kwargs,
    "MultiplicativeLR": _lambda_kwargs,
    "StepLR": _step_kwargs,
    "MultiStepLR": _multistep_kwargs,
    "ConstantLR": _constant_kwargs,
    "LinearLR": _linear_kwargs,
    "ExponentialLR": _exponential_kwargs,
    "PolynomialLR": _polynomial_kwargs,
    "CosineAnnealingLR": _cosine_kwargs,
    "ReduceLROnPlateau": _plateau_kwargs,
    "CyclicLR": _cyclic_kwargs,
    "CosineAnnealingWarmRestarts": _warm_restarts_kwargs,
    "OneCycleLR": _onecycle_kwargs,
    "SWALR": _swalr_kwargs,
}


def _scheduler(d: _Draw, name: str, depth: int, plateau_children: bool = True) -> dict:
    """One scheduler table {scheduler, kwargs[, children]}; composites draw their children first.
    `plateau_children`: whether an invalid case may put a ReduceLROnPlateau inside a composite (not in an
    added scheduler: the case language refuses an added plateau anywhere, torch never sees it)."""
    node: dict = {"scheduler": name}
    if name in COMPOSITES:
        low = 0 if d.invalid else 1  # an empty composite pins torch's error for it
        size = d.count(low, MAX_CHILDREN)
        kinds = [n for n in SCHEDULERS if d.scope.allows(n)
                 and (n not in COMPOSITES or depth < MAX_DEPTH)
                 and (n != "ReduceLROnPlateau" or (d.invalid and plateau_children))]  # torch rejects a plateau
        children = [_scheduler(d, d.draw(_one_of(kinds)), depth + 1, plateau_children) for _ in range(size)]
        kwargs = _sequential_kwargs(d, size) if name == "SequentialLR" else _chained_kwargs(d)
        node["kwargs"], node["children"] = kwargs, children
    else:
        node["kwargs"] = KWARGS[name](d)
    if name in TAKES_LAST_EPOCH and d.scope.has("last_epoch"):
        _put(node["kwargs"], "last_epoch", d.rarely(LAST_EPOCHS, odds=2))
    return node


def _walk(node: dict):
    yield node
    for child in node.get("children", ()):
        yield from _walk(child)


# --- step arguments -------------------------------------------------------------------------


# The per-step walks are drawn as lists of moves, one per step, and the list's length *is* the number of
# steps: hypothesis shrinks a walk by deleting steps anywhere, so a finding at step 30 whose cause is a
# run of ties can shrink to the few steps that matter. The first entry of each pool is what shrinking
# goes to: a flat metric, an epoch counting up. Non-finite metrics are rare (about one step in twenty):
# after an inf in mode max (-inf in min) nothing can improve any more.
METRIC_MOVES = ("same",) * 9 + ("boundary",) * 6 + ("other boundary",) * 3 + METRICS * 3 + NONFINITE
EPOCH_MOVES = (1, 1, 1, 0, -1, -2, 3, 7)
FRACTIONAL_MOVES = (0.5, 0.25, 1.5)
EPOCH_STARTS = (0, 1, 2, 5)


def _metrics(moves, plateau_kwargs: dict) -> list[float]:
    """A metric per move: the walk ties, lands exactly on the threshold boundary of the best so far (the
    scheduler's own threshold_mode, or the other one: where rel and abs disagree), jumps within a small
    pool, or goes non-finite - so that every branch of a plateau scheduler is hit."""
    maximize = plateau_kwargs.get("mode") == "max"
    threshold = plateau_kwargs.get("threshold", 1e-4)
    relative = plateau_kwargs.get("threshold_mode", "rel") != "abs"
    values: list[float] = []
    best = None
    for move in moves:
        if move == "same":
            value = values[-1] if values else METRICS[0]
        elif move in ("boundary", "other boundary"):  # where a strict comparison stops calling it better
            if best is None or not math.isfinite(best) or not isinstance(threshold, (int, float)):
                value = METRICS[0]
            else:
                sign = 1 if maximize else -1
                rel = relative if move == "boundary" else not relative
                value = best * (1 + sign * threshold) if rel else best + sign * threshold
        else:
            value = move
        values.append(value)
        if not math.isnan(value) and (best is None or (value > best if maximize else value < best)):
            best = value
    return values


def _epochs(start, moves) -> list[float]:
    """An epoch per move for step(epoch): from `start`, each step moves on by its move (the first move is
    not used) - mostly counting up, with repeats, steps back, jumps and fractional steps."""
    values = [start]
    for move in moves[1:]:
        values.append(values[-1] + move)
    return values


def _walk_moves(d: _Draw, moves, low: int, high: int, size: int | None = None) -> list:
    """One move per step: `size` of them, or between low and high (a walk that stops by itself)."""
    drawn = []
    while len(drawn) < (size or high):
        more, move = d.draw(_steps_of(moves))
        drawn.append(move)
        if size is None and not more and len(drawn) >= low:
            break
    return drawn


def _protocol(d: _Draw) -> dict:
    """The protocol, whether it resumes (resume_at is drawn once the steps are known)."""
    scope = d.scope
    choices = ["standard"]
    choices += ["scheduler-first"] if scope.has("scheduler_first") else []
    choices += ["resume-state-dict"] if scope.has("state_dict") else []
    choices += ["step-epoch"] if scope.has("step_epoch") else []
    protocol = d.pick(choices)
    resumes = protocol == "resume-state-dict" or (protocol == "scheduler-first" and scope.has("state_dict")
                                                  and d.flag())
    return {"protocol": protocol, "resume_at": resumes}


def _steps(d: _Draw, data: dict, plateau: dict | None) -> None:
    """steps, and the per-step metrics / epochs, into `data`; then resume_at."""
    low, high = (2 if data["resume_at"] else 1), d.scope.max_steps
    steps = None
    if plateau is not None:
        data["metrics"] = _metrics(_walk_moves(d, METRIC_MOVES, low, high), plateau["kwargs"])
        steps = len(data["metrics"])
    if data["protocol"] == "step-epoch":
        moves = EPOCH_MOVES + (FRACTIONAL_MOVES if d.scope.has("fractional_epoch") else ())
        start = d.pick(EPOCH_STARTS)
        data["epochs"] = _epochs(start, _walk_moves(d, moves, low, high, size=steps))
        steps = len(data["epochs"])
    data["steps"] = steps if steps is not None else d.count(low, high)
    if data["resume_at"]:
        data["resume_at"] = d.draw(_between(1, data["steps"] - 1))
    else:
        del data["resume_at"]


# --- interventions (spec 4.5) ---------------------------------------------------------------


def _set(d: _Draw, data: dict) -> dict:
    """`set` one of the case's own groups' keys that exist there: lr always; momentum in SGD's groups (Adam has
    betas, Adagrad neither); initial_lr where the group has one or a scheduler put it there (every one but
    ReduceLROnPlateau does at construction)."""
    group = d.draw(_between(0, len(data["groups"]) - 1))
    keys = ("lr",) + (("momentum",) if data["optimizer"]["name"] == "SGD" else ())
    if data["scheduler"] != "ReduceLROnPlateau" or "initial_lr" in data["groups"][group]:
        keys += ("initial_lr",)
    key = d.pick(keys)
    return {"group": group, "key": key, "value": d.pick(MOMENTA if key == "momentum" else LRS)}


def _add_param_group(d: _Draw, data: dict) -> dict:
    options: dict = {}
    _put(options, "lr", d.maybe(LRS))
    if data["optimizer"]["name"] == "SGD":
        _put(options, "momentum", d.rarely(MOMENTA, odds=2))
    _put(options, "initial_lr", d.rarely(LRS, odds=2))
    return {"options": options} if options else {}


def _add_scheduler(d: _Draw, data: dict) -> dict:
    kinds = [name for name in SCHEDULERS if d.scope.allows(name) and name != "ReduceLROnPlateau"]
    spec = _scheduler(d, d.draw(_one_of(kinds)), depth=2, plateau_children=False)
    keys = {"scheduler": spec, **_given(first=d.maybe((True, False)))}
    if "add-scheduler" in d.scope.interventions:  # `from` and `replace` only when targeted, as read-scheduler:
        # untargeted, these draws would move every seeded draw after them (TARGETED_ONLY_INTERVENTIONS)
        start, replace = d.maybe(range(data["steps"])), d.flag(2)  # both drawn, then ignored where not allowed
        if d.scope.has("add_scheduler_from"):
            _put(keys, "from", start)  # one below its `at` is left out by _expressible
        if replace and d.scope.has("replace_scheduler") and keys.get("first") is not True:
            keys["replace"] = True
    return keys


def _read_scheduler(d: _Draw, data: dict) -> dict:
    """`read-scheduler` an attribute the case's scheduler has (spec 4.5's table), now and then one it lacks (the
    AttributeError a user gets: a ChainedScheduler has none at all)."""
    has = [a for a in READABLE_ATTRIBUTES if has_attribute(data["scheduler"], a)]
    lacks = [a for a in READABLE_ATTRIBUTES if a not in has]
    return {"attribute": d.pick(lacks if not has or (lacks and d.flag(4)) else has)}


def _set_scheduler(d: _Draw, data: dict) -> dict | None:
    """`set-scheduler` an attribute the case's scheduler has, with a value of its shape (a list: one per group of
    the case); None where it has none the language lets a user write (ChainedScheduler)."""
    has = [a for a in SETTABLE_ATTRIBUTES if has_attribute(data["scheduler"], a)]
    if not has:
        return None
    attribute = d.pick(has)
    shape = SETTABLE_ATTRIBUTES[attribute]
    if shape == "list":
        return {"attribute": attribute, "value": [d.pick(LRS) for _ in data["groups"]]}
    return {"attribute": attribute, "value": d.pick(LAST_EPOCHS if shape == "int" else T_CURS)}


def _change_argument(d: _Draw, data: dict) -> dict | None:
    """`change-argument` of a group's lr tensor (the fuzzer draws tensor lrs, not tensor arguments): by a factor
    or to a value. A user who changes their tensor in place passed one: the case's lrs become tensors, where
    the scope has tensor_lr (None where it has not)."""
    if not data.get("tensor_lr"):
        if not d.scope.has("tensor_lr"):
            return None
        data["tensor_lr"] = True
    change = {"multiply": d.pick(FACTORS)} if d.flag(1) else {"value": d.pick(LRS)}
    return {"argument": "lr", "group": d.draw(_between(0, len(data["groups"]) - 1)), **change}


ACTIONS = {  # the keys of each kind of action besides `at` and `do` (None: not expressible in this case)
    "skip-optimizer-step": lambda d, data: {},
    "scheduler-steps": lambda d, data: {"count": d.pick(SCHEDULER_STEP_COUNTS)},
    "wrap-optimizer-step": lambda d, data: _given(keep_attributes=d.maybe((True, False))),
    "set": _set,
    "add-param-group": _add_param_group,
    "add-scheduler": _add_scheduler,
    "call": lambda d, data: {"method": d.pick(("get_lr", "get_last_lr"))},
    "read-scheduler": _read_scheduler,
    "set-scheduler": _set_scheduler,
    "change-argument": _change_argument,
    "resume": lambda d, data: {"load": list(d.pick(LOADS + RELOADS if _reloads(d.scope) else LOADS))},
}
ADDS = ("add-scheduler", "add-param-group")


def _reloads(scope: Scope) -> bool:
    """Whether a resume may load a state dict twice: targeted, and both sides declare reused_state_dict."""
    return "resume" in scope.interventions and scope.has("reused_state_dict")


def _interventions(d: _Draw, data: dict) -> None:
    """`interventions` into `data`, now and then (every case when the scope targets kinds): 1 to MAX_ACTIONS
    actions, each one continuation draw (go on?, which kind), its `at` and its keys."""
    kinds = d.scope.intervention_kinds
    if not kinds or (not d.scope.interventions and not d.flag(INTERVENTION_ODDS)):
        return
    steps, resume_at = data["steps"], data.get("resume_at")
    actions = []
    for _ in range(MAX_ACTIONS):
        more, do = d.draw(_steps_of(kinds, goes_on=1))
        # a parameter group or scheduler added before a resume would be lost by it: start after resume_at
        low = resume_at + 1 if do in ADDS and resume_at is not None and resume_at + 1 < steps else 0
        at = d.draw(_between(low, steps - 1))
        keys = ACTIONS[do](d, data)
        if keys is not None:
            actions.append({"at": at, "do": do, **keys})
        if not more:
            break
    kept = _expressible(actions, resume_at)
    if kept:
        data["interventions"] = kept


def _expressible(actions: list[dict], resume_at: int | None) -> list[dict]:
    """The actions the case language takes (spec 4.5's rules; a shrink may have moved an `at`): one
    skip-optimizer-step and one scheduler-steps per iteration (the first drawn), and no resume at or after an
    add-scheduler (the language refuses one after it; one listed before it in its iteration it takes, a loop
    this strategy leaves to the fixed cases) or an add-param-group (the fresh objects of a resume are the case's
    alone: the trace would lose the added group's observations); an add-scheduler's `from` not before its `at`
    (else left out: from `at`), and one `replace` (the first drawn)."""
    resumes = [a["at"] for a in actions if a["do"] == "resume"] + ([resume_at] if resume_at is not None else [])
    kept, once = [], set()
    for action in actions:
        if action["do"] in ("skip-optimizer-step", "scheduler-steps"):
            if (action["do"], action["at"]) in once:
                continue
            once.add((action["do"], action["at"]))
        if action["do"] in ADDS and any(at >= action["at"] for at in resumes):
            continue
        if action.get("from", action["at"]) < action["at"]:
            action = {key: value for key, value in action.items() if key != "from"}
        if action.get("replace") and any(other.get("replace") for other in kept):
            action = {key: value for key, value in action.items() if key != "replace"}
        kept.append(action)
    return kept


# --- the case -------------------------------------------------------------------------------


def _groups(d: _Draw, optimizer: str, needs_initial_lr: bool) -> list[dict]:
    # initial_lr: what resuming by last_epoch needs (now and then left out of every group: the KeyError);
    # without last_epoch torch keeps a given initial_lr as the base lr
    omit_initial_lr = d.flag(4)
    groups = []
    for _ in range(d.groups):
        group: dict = {"lr": d.pick(LRS)}
        momentum, initial_lr = d.rarely(MOMENTA, 2), d.rarely(LRS, 8)  # momentum: SGD's, or Adam's beta1
        if optimizer == "SGD" and momentum is not None:
            group["momentum"] = momentum
        if optimizer == "Adam" and momentum is not None:
            group["betas"] = [momentum, 0.999]
        if needs_initial_lr and not omit_initial_lr and initial_lr is None:
            initial_lr = group["lr"]
        if initial_lr is not None:
            group["initial_lr"] = initial_lr
        groups.append(group)
    return groups


def _optimizer(d: _Draw) -> dict:
    name = d.pick(("SGD", "Adam", "Adagrad"))
    momentum, betas = d.maybe((0.9, 0.0)), d.maybe(([0.95, 0.999], [0.9, 0.999]))
    optimizer: dict = {"name": name}
    if name == "SGD":
        _put(optimizer, "momentum", momentum)
    elif name == "Adam":
        _put(optimizer, "betas", betas)
    return optimizer


@st.composite
def case_data(draw, scope: Scope, steer=None) -> dict:
    """A case as data: the dict parse_case takes (id DRAFT_ID, why a placeholder). `steer` (fuzz/refusals.py)
    maps the drawn data to what the candidate can run; it changes the case, never the draws."""
    tops = scope.tops
    if not tops:
        raise ValueError("the scope has no scheduler both implementations declare")
    invalid = scope.has("errors") and draw(_one_of((False, False, True)))  # a third of the cases
    d = _Draw(draw, scope, draw(_between(1, MAX_GROUPS)), invalid)
    tree = _scheduler(d, draw(_one_of(tops)), depth=1)
    optimizer = _optimizer(d)
    data = {"id": DRAFT_ID, "why": "drawn by lr-conformance fuzz", **tree, "optimizer": optimizer,
            **_protocol(d)}
    _steps(d, data, next((node for node in _walk(tree) if node["scheduler"] == "ReduceLROnPlateau"), None))
    needs_initial_lr = any("last_epoch" in node["kwargs"] for node in _walk(tree))
    data["groups"] = _groups(d, optimizer["name"], needs_initial_lr)
    if scope.has("tensor_lr") and d.flag(5):
        data["tensor_lr"] = True
    _interventions(d, data)  # last: every earlier draw of a seed stays what it was before interventions
    return data if steer is None else steer(data)

