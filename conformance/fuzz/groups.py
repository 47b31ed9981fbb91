"""Findings grouped by likely cause: what a reviewer of a `fuzz --keep-going` campaign handles at once.

The matching of known differences is strict on purpose (fuzz/known.py: a listed difference explains a divergence
only when it accounts for it), so one cause met in several shapes is several findings: paddle's "loading only
the optimizer's state dict restores the scheduler too" was 18 findings of one 600 s campaign, one per scheduler
it met. A *group* gathers the findings whose diagnosis (`known.diagnosed`, made anyway for the next round) says
the same thing about how the pair differs, leaving out which schedulers it met:

- the first difference: its column (lr, momentum, last_lr, event) or the candidate's status, and for an event
  its symptom (phase, the event each side has, their message templates);
- the case's shape besides its schedulers: the features it needs (`state_dict`, `step_epoch`, ...), each
  intervention with what tells its kinds apart (`resume` with the state dicts it loads: only the optimizer's
  and only the scheduler's are two causes of paddle's; `call` with the method; `set` with the key;
  `read-scheduler`/`set-scheduler` with the attribute), a callable object with state, a leftover initial_lr;
- what the difference needs (fuzz/attribution.py), ingredients named by scheduler as there
  (`ReduceLROnPlateau.cooldown`): a cause that needs an argument is that scheduler's;
- the composites in it (SequentialLR, ChainedScheduler), whatever their stages: a composite's own behaviour
  shows in endless stages (mmengine's SequentialLR restarting the next stage from its closed form), while a
  stage's cause needing an argument inside one composite is not the same as inside the other (mmengine's
  chainable CosineRestart needing T_mult in a chain, its SequentialLR restart needing it in a sequence);
- the other schedulers only when nothing else names the cause - no symptom, no feature or intervention, no
  ingredient needed, no composite: a bare value difference of the scheduler's own arithmetic, where leaving
  the names out would merge every scheduler's.

A group is a hint for the report and the record, never a decision: nothing here is read when a divergence is
matched against the known ones, and findings of one group are still each a finding. It does not promise one
cause per group (two causes with the same needs in the same shape are one group, as they are one to the
matching), nor one group per cause (a cause met with and without a feature it does not need, or whose needs
name another scheduler's argument, is split). Its cost is nothing: every key is made from what the diagnosis
already computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.cases import COMPOSITES
from conformance.model import INTERVENTION_FEATURES, Intervention


@dataclass(frozen=True)
class GroupKey:
    """What a group's findings share (see the module docstring). `schedulers`: the composites, or every
    scheduler when nothing else names the cause."""

    difference: str | None  # None: the finding's minimal case did not diverge when diagnosed (flaky)
    symptom: str | None
    shape: frozenset[str]
    needs: frozenset[str]
    schedulers: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        """`g-<6 hex digits>`: the same key always gets the same label, in every run and every record."""
        text = repr((self.difference, self.symptom, sorted(self.shape), sorted(self.needs), sorted(self.schedulers)))
        return "g-" + hashlib.sha256(text.encode()).hexdigest()[:6]

    def __str__(self) -> str:
        if self.difference is None:
            return "no difference when diagnosed again (flaky)"
        first = f"{self.symptom}" if self.symptom else f"{self.difference} differs first"
        shape = f"with {', '.join(sorted(self.shape))}" if self.shape else "no feature or intervention"
        needs = f"needs {', '.join(sorted(self.needs))}" if self.needs else "needs no argument (the shape's)"
        words = f"{first}; {shape}; {needs}"
        if not self.schedulers:
            return words
        names = ", ".join(sorted(self.schedulers))
        return f"{words}; in {names}, whatever its stages" if self.schedulers <= set(COMPOSITES) \
            else f"{words}; only in {names}"


def key(diagnosed) -> GroupKey:
    """The group of a finding diagnosed as a known shape (a `known.Known` after `known.diagnosed`)."""
    actions = diagnosed.case.interventions if diagnosed.case is not None else ()
    # an intervention's feature (`feature:partial_resume`) is said by the intervention itself (`resume:load=...`)
    implied = {f"feature:{INTERVENTION_FEATURES[action.do]}" for action in actions}
    shape = frozenset(trait for trait in diagnosed.traits
                      if not trait.startswith("scheduler:") and trait not in implied)
    shape |= {_intervention(action) for action in actions}
    needs = diagnosed.needs or frozenset()
    symptom = str(diagnosed.symptom) if diagnosed.symptom is not None else None
    schedulers = frozenset(t.removeprefix("scheduler:") for t in diagnosed.traits if t.startswith("scheduler:"))
    composites = schedulers & set(COMPOSITES)
    bare = not (shape or needs or symptom or composites)
    return GroupKey(diagnosed.difference, symptom, shape, needs, schedulers if bare else composites)


# What tells apart the actions of one kind, by kind: the fields a user chooses that change what the loop does.
_DISTINCT = {"resume": ("load",), "call": ("method",), "set": ("key",), "read-scheduler": ("attribute",),
             "set-scheduler": ("attribute",), "change-argument": ("argument",), "add-scheduler": ("replace",)}


def _intervention(action: Intervention) -> str:
    """The intervention with what tells its kind's actions apart (`resume:load=optimizer`)."""
    fields = []
    for name in _DISTINCT.get(action.do, ()):
        value = getattr(action, name)
        fields.append(f"{name}={'+'.join(value) if isinstance(value, tuple) else value}")
    if action.do == "scheduler-steps" and action.epoch is not None:
        fields.append("epoch")
    return f"{action.do}:{','.join(fields)}" if fields else action.do


def grouped(findings: Iterable[tuple[str, GroupKey | None]]) -> list[tuple[GroupKey | None, list[str]]]:
    """Finding ids by group, the largest group first (ties: the group found first); findings without a key
    (not diagnosed: the run was interrupted) last, as one entry."""
    groups: dict[GroupKey, list[str]] = {}
    undiagnosed = []
    for finding_id, group in findings:
        if group is None:
            undiagnosed.append(finding_id)
        else:
            groups.setdefault(group, []).append(finding_id)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))  # stable: first found first among equals
    return [*ordered, *([(None, undiagnosed)] if undiagnosed else [])]
