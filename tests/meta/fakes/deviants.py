"""Plausible deviating implementations: torch's own schedulers, each with one small change of the kind a
port or a refactor makes (an off-by-one boundary, a clamp, `<=` for `<`, a counter a checkpoint forgets).
They are the proof of power of `lr-conformance fuzz`: tests/meta/test_fuzz_power.py shows that fuzz finds
every one of them from scratch, within a small budget, and shrinks it to a short case.

Each deviant is an adapter - the torch reference adapter with one scheduler class replaced by a patched
subclass - so `lr-conformance fuzz --adapter tests/meta/fakes/deviants.py:StepLRLate` fuzzes it from the
command line too. The patched methods copy torch 2.13's where they must (the proof-of-power env runs 2.13);
`DEVIANTS` lists them all, with what each changes and which protocol or feature exposes it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import torch.optim.lr_scheduler as torch_schedulers

from conformance.adapters.torch_reference import TorchAdapter

# --- the patched schedulers -----------------------------------------------------------------


class _StepLRLate(torch_schedulers.StepLR):
    """Counts epochs from 1: the lr decays one step after each multiple of step_size."""

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch > 1 and (self.last_epoch - 1) % self.step_size == 0:
            return [lr * self.gamma for lr in lrs]
        return lrs


class _MultiStepLRSet(torch_schedulers.MultiStepLR):
    """Keeps the milestones in a set: a repeated milestone decays once, not once per repeat."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        super().__init__(optimizer, sorted(set(milestones)), gamma, last_epoch)


class _CosineClamped(torch_schedulers.CosineAnnealingLR):
    """Stays at eta_min after T_max, where torch's cosine turns and climbs back (its period is 2 * T_max)."""

    def get_lr(self):
        # torch's get_lr first (it warns when called outside step(), as a user's call would see): the planted
        # deviation is the clamp alone, not a missing warning the fuzzer would find as a second difference
        closed = super().get_lr()
        if self.last_epoch >= self.T_max:
            return [self.eta_min for _ in self.optimizer.param_groups]
        return closed


class _PlateauTieImproves(torch_schedulers.ReduceLROnPlateau):
    """Compares with <= / >=: a metric exactly at the threshold boundary counts as an improvement."""

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a <= best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a <= best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a >= best * (self.threshold + 1.0)
        return a >= best + self.threshold


class _PlateauCooldownCounts(torch_schedulers.ReduceLROnPlateau):
    """Counts bad epochs during cooldown (torch ignores them): the next reduction comes early."""

    def step(self, metrics, epoch=None):
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(torch_schedulers.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1  # torch also sets num_bad_epochs = 0 here
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = torch_schedulers._param_groups_val_list(self.optimizer, "lr")


class _PlateauCooldownSkips(torch_schedulers.ReduceLROnPlateau):
    """Skips the comparison during cooldown, as paddle's ReduceOnPlateau.step does (python/paddle/optimizer/
    lr.py, paddle 3.3.1: `if self.cooldown_counter > 0: self.cooldown_counter -= 1` else compare): a better
    metric in cooldown is not recorded as the best, so a later metric between the two bests is an improvement
    here and a bad epoch in torch."""

    def step(self, metrics, epoch=None):
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(torch_schedulers.EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self.in_cooldown:
            self.cooldown_counter -= 1
        else:
            if self._is_better(current, self.best):
                self.best = current
                self.num_bad_epochs = 0
            else:
                self.num_bad_epochs += 1
            if self.num_bad_epochs > self.patience:
                self._reduce_lr(epoch)
                self.cooldown_counter = self.cooldown
                self.num_bad_epochs = 0
        self._last_lr = torch_schedulers._param_groups_val_list(self.optimizer, "lr")


class _FirstMetricIsBest:
    """Mixed into a ReduceLROnPlateau: the first metric is the best whatever it is, as paddle's `self.best is
    None` (a nan or inf first metric is an improvement; torch starts from +-inf, where it is a bad epoch)."""

    def _is_better(self, a, best):
        first = not getattr(self, "_compared", False)  # in __dict__: state_dict keeps it, as paddle keeps best
        self._compared = True
        return first or super()._is_better(a, best)


class _PlateauFirstMetricIsBest(_FirstMetricIsBest, torch_schedulers.ReduceLROnPlateau):
    """paddle's first-metric difference alone: a candidate whose every difference is known (fuzz's cost)."""


class _PlateauLikePaddle(_FirstMetricIsBest, _PlateauCooldownSkips):
    """paddle's two ReduceOnPlateau differences at once: the first metric as the best, and no comparison
    during cooldown (expectations/paddle-*.toml: reducelronplateau/nan-metric and .../cooldown-best-not-recorded)."""


class _PlateauCooldownCountsFirstMetricIsBest(_FirstMetricIsBest, _PlateauCooldownCounts):
    """PlateauCooldownCounts with paddle's first-metric difference as well: a known difference beside it."""


class _PlateauMaxAbsAsRel(torch_schedulers.ReduceLROnPlateau):
    """A threshold_mode mix-up: in mode max, threshold_mode abs is applied as rel."""

    def _is_better(self, a, best):
        if self.mode == "max" and self.threshold_mode == "abs":
            return a > best * (self.threshold + 1.0)
        return super()._is_better(a, best)


class _PlateauForgetsBadEpochs(torch_schedulers.ReduceLROnPlateau):
    """state_dict() leaves out num_bad_epochs: a resumed run counts its plateau from zero again."""

    def state_dict(self):
        state = super().state_dict()
        state.pop("num_bad_epochs", None)
        return state


class _WarmRestartsSubtract(torch_schedulers.CosineAnnealingWarmRestarts):
    """Resets T_cur by subtracting one period instead of taking it modulo the period (torch before 2.8):
    constructed with last_epoch more than a period in, T_cur stays past the restart."""

    def step(self, epoch=None):
        if epoch is None and self.last_epoch >= 0:
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur - self.T_i
                self.T_i = self.T_i * self.T_mult
            self.last_epoch = self.last_epoch + 1
            with torch_schedulers._enable_get_lr_call(self):
                for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
                    torch_schedulers._update_param_group_val(group, "lr", lr)
            self._last_lr = torch_schedulers._param_groups_val_list(self.optimizer, "lr")
            return
        super().step(epoch)


class _WarmRestartsWholeEpochs(torch_schedulers.CosineAnnealingWarmRestarts):
    """step(epoch) drops the fraction of a fractional epoch (a port typing epochs as integers)."""

    def step(self, epoch=None):
        super().step(None if epoch is None else math.floor(epoch))


class _OneCyclePhaseLate(torch_schedulers.OneCycleLR):
    """Ends each phase but the last at pct_start * total_steps, not one step before it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for phase in self._schedule_phases[:-1]:
            phase["end_step"] += 1


class _CyclicTriangular2Halved(torch_schedulers.CyclicLR):
    """triangular2 halves the amplitude from the first cycle on: 1 / 2**cycle, not 1 / 2**(cycle - 1)."""

    @staticmethod
    def _triangular2_scale_fn(x):
        return 1 / (2.0**x)


class _SequentialForgetsChildren(torch_schedulers.SequentialLR):
    """load_state_dict() restores the SequentialLR's own counters but not its children's states."""

    def load_state_dict(self, state_dict):
        self.__dict__.update({key: value for key, value in state_dict.items() if key != "_schedulers"})


class _ConstantLREndsLate(torch_schedulers.ConstantLR):
    """Restores the base lr one step after total_iters (a `>` where torch has `==`)."""

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return [lr * self.factor for lr in lrs]
        if self.last_epoch != self.total_iters + 1:
            return lrs
        return [lr * (1.0 / self.factor) for lr in lrs]


# --- the adapters ---------------------------------------------------------------------------


class _Schedulers:
    """torch.optim.lr_scheduler with some classes replaced."""

    def __init__(self, replaced: dict) -> None:
        self._replaced = replaced

    def __getattr__(self, name):
        return self._replaced.get(name) or getattr(torch_schedulers, name)


class Deviant(TorchAdapter):
    """The torch adapter with `replaces` (torch class name -> patched class) in place of torch's classes."""

    replaces: dict = {}
    label = "deviant"

    def __init__(self) -> None:
        super().__init__()
        self._lr_scheduler = _Schedulers(self.replaces)
        self.info = replace(self.info, name=f"deviant-{self.label}")


def _deviant(name: str, label: str, scheduler: str, patched: type) -> type:
    # the patched class keeps torch's name: torch puts it in messages (`SequentialLR expects ...`)
    patched.__name__ = patched.__qualname__ = scheduler
    return type(name, (Deviant,), {"label": label, "replaces": {scheduler: patched},
                                                          "__doc__": patched.__doc__})


StepLRLate = _deviant("StepLRLate", "steplr-late", "StepLR", _StepLRLate)
MultiStepLRSet = _deviant("MultiStepLRSet", "multisteplr-set", "MultiStepLR", _MultiStepLRSet)
CosineClamped = _deviant("CosineClamped", "cosine-clamped", "CosineAnnealingLR", _CosineClamped)
PlateauTieImproves = _deviant("PlateauTieImproves", "plateau-tie-improves", "ReduceLROnPlateau", _PlateauTieImproves)
PlateauCooldownCounts = _deviant("PlateauCooldownCounts", "plateau-cooldown-counts", "ReduceLROnPlateau", _PlateauCooldownCounts)
PlateauCooldownSkips = _deviant("PlateauCooldownSkips", "plateau-cooldown-skips", "ReduceLROnPlateau",
                                _PlateauCooldownSkips)
PlateauFirstMetricIsBest = _deviant("PlateauFirstMetricIsBest", "plateau-first-metric-is-best", "ReduceLROnPlateau",
                                    _PlateauFirstMetricIsBest)
PlateauLikePaddle = _deviant("PlateauLikePaddle", "plateau-like-paddle", "ReduceLROnPlateau", _PlateauLikePaddle)
PlateauCooldownCountsFirstMetricIsBest = _deviant("PlateauCooldownCountsFirstMetricIsBest",
                                                  "plateau-cooldown-counts-first-metric-is-best", "ReduceLROnPlateau",
                                                  _PlateauCooldownCountsFirstMetricIsBest)
PlateauMaxAbsAsRel = _deviant("PlateauMaxAbsAsRel", "plateau-max-abs-as-rel", "ReduceLROnPlateau", _PlateauMaxAbsAsRel)
PlateauForgetsBadEpochs = _deviant("PlateauForgetsBadEpochs", "plateau-forgets-bad-epochs", "ReduceLROnPlateau", _PlateauForgetsBadEpochs)
WarmRestartsSubtract = _deviant("WarmRestartsSubtract", "warmrestarts-subtract", "CosineAnnealingWarmRestarts", _WarmRestartsSubtract)
WarmRestartsWholeEpochs = _deviant("WarmRestartsWholeEpochs", "warmrestarts-whole-epochs", "CosineAnnealingWarmRestarts",
                                   _WarmRestartsWholeEpochs)
OneCyclePhaseLate = _deviant("OneCyclePhaseLate", "onecycle-phase-late", "OneCycleLR", _OneCyclePhaseLate)
CyclicTriangular2Halved = _deviant("CyclicTriangular2Halved", "cyclic-triangular2-halved", "CyclicLR", _CyclicTriangular2Halved)
SequentialForgetsChildren = _deviant("SequentialForgetsChildren", "sequential-forgets-children", "SequentialLR", _SequentialForgetsChildren)
ConstantLREndsLate = _deviant("ConstantLREndsLate", "constantlr-ends-late", "ConstantLR", _ConstantLREndsLate)

# label -> (adapter class, the scheduler it changes, what exposes it: a protocol, feature or argument)
DEVIANTS = {
    cls.label: (cls, next(iter(cls.replaces)), exposed_by)
    for cls, exposed_by in (
        (StepLRLate, "standard"),
        (MultiStepLRSet, "repeated milestones"),
        (CosineClamped, "steps past T_max"),
        (PlateauTieImproves, "metrics on the threshold boundary"),
        (PlateauCooldownCounts, "cooldown"),
        (PlateauCooldownSkips, "a better metric during cooldown"),
        (PlateauMaxAbsAsRel, "mode max, threshold_mode abs"),
        (PlateauForgetsBadEpochs, "resume-state-dict"),
        (WarmRestartsSubtract, "last_epoch"),
        (WarmRestartsWholeEpochs, "step-epoch with fractional epochs"),
        (OneCyclePhaseLate, "phase boundaries"),
        (CyclicTriangular2Halved, "mode triangular2"),
        (SequentialForgetsChildren, "resume-state-dict of a composite"),
        (ConstantLREndsLate, "total_iters"),
    )
}
