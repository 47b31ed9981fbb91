"""The named, parameterised functions that stand in for callables in case files.

LambdaLR / MultiplicativeLR take `lr_lambda`, CyclicLR takes `scale_fn`. A case cannot hold code, so it
names one of these functions with its parameters:

    lr_lambda = { fn = "constant_then_linear_decay", n_epochs = 5, n_epochs_decay = 5 }
    lr_lambda = [ { fn = "exponential", gamma = 0.9 }, { fn = "constant", value = 0.5 } ]   # one per group

Each entry documents its exact Python expression on IEEE-754 doubles (`x` is the epoch, or for scale_fn
the cycle number or iteration), so an implementation in any language can rebuild it bit for bit.

`build` returns plain closures (types.FunctionType), as a user's lambda would be - except `call_count_decay`,
a callable *object* with state, and `not_callable`, which is the bare number (a case about the error a scheduler
raises for a non-callable `lr_lambda`). That matters: torch's LambdaLR / MultiplicativeLR / CyclicLR state_dict()
saves the __dict__ of callable objects (and load_state_dict restores it) but drops plain functions.

`SUBCLASSES` is the other half: a user's own scheduler class, `scheduler = "LRScheduler"` with
`kwargs = { subclass = { fn = "closed_form_decay", gamma = 0.5 } }`. Each is the code a user writes when they
"plug in their own scheduler" - `__init__` storing its parameters, then `super().__init__(optimizer,
last_epoch)`, and `get_lr` (optionally `_get_closed_form_lr`) - as a plain mixin class with no torch import: an
implementation puts its own base class under it (the torch adapter: torch.optim.lr_scheduler.LRScheduler), so
what is graded is the base-class contract the subclass inherits (initial_lr, last_epoch, _step_count, the
ordering warnings, the state dict).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    params: tuple[str, ...]
    expression: str  # the exact Python expression; documentation and the source of truth for other languages
    make: Callable[..., Callable[[float], float]]
    defaults: Mapping[str, Any] | None = None
    # False for the one entry that stands for a user's mistake: the value itself is passed where a callable
    # is expected, so that cases can pin the error each scheduler raises for it.
    is_callable: bool = True


def _constant(value):
    return lambda x: value


def _linear_warmup(warmup):
    return lambda x: min(1.0, (x + 1) / warmup)


def _constant_then_linear_decay(n_epochs, n_epochs_decay, epoch_count=1):
    # CycleGAN / pix2pix `lambda_rule`: constant for n_epochs, then linear decay to zero over n_epochs_decay.
    return lambda x: 1.0 - max(0, x + epoch_count - n_epochs) / float(n_epochs_decay + 1)


def _exponential(gamma):
    return lambda x: gamma**x


def _step_decay(step_size, gamma):
    return lambda x: gamma ** (x // step_size)


def _inverse_sqrt(warmup):
    # "Noam" / transformer rule without the d_model factor: linear warm-up, then 1/sqrt(step).
    return lambda x: min((x + 1) ** -0.5, (x + 1) * warmup**-1.5)


def _floor_div(divisor):
    # The `epoch // 30` lambda of torch's LambdaLR docstring: factor 0 at the start.
    return lambda x: x // divisor


def _halving(_unused=None):
    # triangular2's built-in scale: halve the amplitude each cycle.
    return lambda x: 1 / (2.0 ** (x - 1))


def _power(gamma):
    return lambda x: gamma**x


def _not_callable(value):
    # Not a function: a user passing `lr_lambda=0.95` where torch expects `lambda epoch: 0.95`.
    return value


class _CallCountDecay:
    """gamma ** n, n = how many times it was called before: a stateful callable object, like a user's
    schedule class. Its state (`calls`) is what a checkpoint must carry."""

    def __init__(self, gamma):
        self.gamma = gamma
        self.calls = 0

    def __call__(self, x):
        value = self.gamma**self.calls
        self.calls += 1
        return value


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("constant", ("value",), "value", _constant),
        Entry("linear_warmup", ("warmup",), "min(1.0, (x + 1) / warmup)", _linear_warmup),
        Entry(
            "constant_then_linear_decay",
            ("n_epochs", "n_epochs_decay", "epoch_count"),
            "1.0 - max(0, x + epoch_count - n_epochs) / float(n_epochs_decay + 1)",
            _constant_then_linear_decay,
            {"epoch_count": 1},
        ),
        Entry("exponential", ("gamma",), "gamma ** x", _exponential),
        Entry("step_decay", ("step_size", "gamma"), "gamma ** (x // step_size)", _step_decay),
        Entry("inverse_sqrt", ("warmup",), "min((x + 1) ** -0.5, (x + 1) * warmup ** -1.5)", _inverse_sqrt),
        Entry("floor_div", ("divisor",), "x // divisor", _floor_div),
        Entry("halving", (), "1 / (2.0 ** (x - 1))", _halving),
        Entry("power", ("gamma",), "gamma ** x", _power),
        Entry("call_count_decay", ("gamma",), "gamma ** n, n = the number of earlier calls (a callable object)",
              _CallCountDecay),
        Entry("not_callable", ("value",), "value (the number itself is passed, not a function of x)", _not_callable,
              is_callable=False),
    )
}


class VocabularyError(ValueError):
    pass


# --- a user's LRScheduler subclass ------------------------------------------------------------------------------


class ClosedFormDecay:
    """The most common user scheduler: get_lr in closed form from base_lrs and last_epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class ChainableDecay:
    """A chainable get_lr: the group's current lr times gamma, unchanged at epoch 0 (the initial step). Without a
    closed form, the base class's step(epoch) calls this get_lr too: one more multiplication, whatever the epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class ChainableDecayWithClosedForm(ChainableDecay):
    """ChainableDecay with the optional _get_closed_form_lr, which the base class's step(epoch) uses instead of
    get_lr."""

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class EpochArgumentGetLr:
    """A get_lr that takes the epoch as an argument: the base class calls get_lr() with none, so constructing it
    raises TypeError at the initial step (torch's test_error_when_getlr_has_epoch)."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self, epoch):
        return [base_lr * self.gamma**epoch for base_lr in self.base_lrs]


class ClosedFormDecayDefaultLastEpoch:
    """ClosedFormDecay as many users write it, without a last_epoch parameter: `super().__init__(optimizer)`, so
    the base class's own default last_epoch decides that the scheduler starts fresh."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


@dataclass(frozen=True)
class Subclass:
    name: str  # the spec's `fn`
    params: tuple[str, ...]  # the constructor's parameters besides optimizer and last_epoch
    expression: str  # what its methods compute, exactly (the mixin's source is the code)
    mixin: type  # the methods, torch-free: the base class goes under it


SUBCLASSES: dict[str, Subclass] = {
    e.name: e
    for e in (
        Subclass("closed_form_decay", ("gamma",), "get_lr: [base * gamma ** last_epoch for base in base_lrs]",
                 ClosedFormDecay),
        Subclass("chainable_decay", ("gamma",), "get_lr: [lr if last_epoch == 0 else lr * gamma for each group's lr]",
                 ChainableDecay),
        Subclass("chainable_decay_with_closed_form", ("gamma",),
                 "get_lr: [lr if last_epoch == 0 else lr * gamma for each group's lr]; "
                 "_get_closed_form_lr: [base * gamma ** last_epoch for base in base_lrs]", ChainableDecayWithClosedForm),
        Subclass("get_lr_takes_epoch", ("gamma",), "get_lr(epoch): [base * gamma ** epoch for base in base_lrs]",
                 EpochArgumentGetLr),
        Subclass("closed_form_decay_default_last_epoch", ("gamma",),
                 "get_lr: [base * gamma ** last_epoch for base in base_lrs]; __init__(optimizer, gamma) passes no "
                 "last_epoch to the base constructor", ClosedFormDecayDefaultLastEpoch),
    )
}


def validate(spec: Any, where: str) -> None:
    """Raise VocabularyError naming `where` if `spec` is not a valid function spec (or list of them)."""
    if isinstance(spec, list):
        for i, item in enumerate(spec):
            validate(item, f"{where}[{i}]")
        return
    if not isinstance(spec, Mapping) or "fn" not in spec:
        raise VocabularyError(f"{where}: expected {{fn = <name>, ...params}}, got {spec!r}")
    entry = ENTRIES.get(spec["fn"])
    if entry is None:
        raise VocabularyError(f"{where}: unknown function {spec['fn']!r}; known: {', '.join(sorted(ENTRIES))}")
    given = set(spec) - {"fn"}
    unknown = given - set(entry.params)
    missing = set(entry.params) - given - set(entry.defaults or {})
    if unknown or missing:
        raise VocabularyError(
            f"{where}: {entry.name} takes ({', '.join(entry.params)}); "
            f"unknown {sorted(unknown)}, missing {sorted(missing)}"
        )


def build(spec: Any) -> Callable[[float], float] | list[Callable[[float], float]]:
    """Turn a function spec (or a list of them) into the callable(s) a Python scheduler takes."""
    if isinstance(spec, list):
        return [build(item) for item in spec]
    entry = ENTRIES[spec["fn"]]
    params = {**(entry.defaults or {}), **{k: v for k, v in spec.items() if k != "fn"}}
    return entry.make(**params)


def is_stateful(spec: Mapping[str, Any]) -> bool:
    """Whether the spec builds a callable *object* (whose __dict__ torch's state_dict saves), not a plain
    function or a bare value; False for a name the vocabulary does not know."""
    entry = ENTRIES.get(spec.get("fn"))
    return entry is not None and isinstance(entry.make, type)


def is_function_spec(value: Any) -> bool:
    return (isinstance(value, Mapping) and "fn" in value) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) and "fn" in v for v in value)
    )


def validate_subclass(spec: Any, where: str) -> None:
    """Raise VocabularyError naming `where` if `spec` is not {fn = <a SUBCLASSES name>, ...its params}."""
    if not isinstance(spec, Mapping) or "fn" not in spec:
        raise VocabularyError(f"{where}: expected {{fn = <name>, ...params}}, got {spec!r}")
    entry = SUBCLASSES.get(spec["fn"])
    if entry is None:
        raise VocabularyError(f"{where}: unknown subclass {spec['fn']!r}; known: {', '.join(sorted(SUBCLASSES))}")
    if set(spec) - {"fn"} != set(entry.params):
        raise VocabularyError(f"{where}: {entry.name} takes ({', '.join(entry.params)}), got "
                              f"{sorted(set(spec) - {'fn'})}")


def subclass(spec: Mapping[str, Any]) -> tuple[type, dict[str, Any]]:
    """A subclass spec's mixin (put a base class under it) and the parameters its constructor takes."""
    return SUBCLASSES[spec["fn"]].mixin, {key: value for key, value in spec.items() if key != "fn"}
