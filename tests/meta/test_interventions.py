"""Interventions (spec 4.5): the case language's loops besides the textbook one.

- every intervention is pinned by goldens: each `do` kind appears in golden/cases, and each feature of
  INTERVENTION_FEATURES is needed by some case;
- a copy of torch changed only where a real loop shows it (fakes/loop_mutants.py) passes every StepLR case
  without interventions - what the suite could see before - and fails some intervention case;
- adapters that do not declare an intervention's feature get its cases as unsupported, never as failures;
- the case parser refuses what the language does not say, one line each.
"""

from __future__ import annotations

import pytest
from fakes import faults as ft
from fakes.loop_mutants import MUTANTS
from helpers import make_case

from conformance import golden, runner
from conformance.cases import CaseError, load_cases
from conformance.model import INTERVENTION_FEATURES, INTERVENTIONS, Status

CASES = load_cases()
STEPLR = [case for case in CASES if case.schedulers == {"StepLR"}]


@pytest.fixture(scope="module")
def store():
    return golden.load()


def test_every_intervention_is_pinned():
    used = {action.do for case in CASES for action in case.interventions}
    assert used == set(INTERVENTIONS)
    needed = set().union(*(case.features() for case in CASES))
    assert set(INTERVENTION_FEATURES.values()) <= needed


def _installed_release() -> str:
    import torch

    return torch.__version__.split("+", 1)[0]


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="the mutants copy torch 2.13.0's StepLR internals (the reference env runs them)")
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.label for m in MUTANTS])
def test_a_mutant_only_a_real_loop_shows_fails_run(store, mutant):
    adapter = mutant()
    textbook = [case for case in STEPLR if not case.interventions]
    loops = [case for case in STEPLR if case.interventions]
    outcomes = runner.run_cases(adapter, textbook, store)
    assert {o.status for o in outcomes} == {Status.PASS}, [(o.case_id, o.detail) for o in outcomes if o.status is not Status.PASS]
    caught = [o.case_id for o in runner.run_cases(adapter, loops, store) if o.status in (Status.FAIL, Status.ERROR)]
    assert caught, f"{mutant.label} passes every StepLR intervention case"


def test_an_adapter_without_the_features_gets_them_unsupported(store):
    loops = [case for case in STEPLR if case.interventions]
    outcomes = runner.run_cases(ft.StepAdapter(), loops, store)
    assert {o.status for o in outcomes} == {Status.UNSUPPORTED}
    assert all(any(feature in o.detail for feature in INTERVENTION_FEATURES.values()) for o in outcomes)


REFUSED = [
    ({"at": 9, "do": "skip-optimizer-step"}, "'at' must be an iteration 0..5"),
    ({"at": [1, 1], "do": "skip-optimizer-step"}, "a list of distinct ones"),
    ({"at": 1, "do": "jump"}, "'do' must be one of"),
    ({"at": 1, "do": "set", "group": 0, "key": "lr"}, "set needs ['value']"),
    ({"at": 1, "do": "set", "group": 1, "key": "lr", "value": 1.0}, "writes group 1, but the optimizer has 1 then"),
    ({"at": 1, "do": "set", "group": 0, "key": "weight_decay", "value": 1.0}, "'key' must be one of"),
    ({"at": 1, "do": "call", "method": "step"}, "'method' must be one of"),
    ({"at": 1, "do": "resume", "load": ["optimizer", "optimizer"]}, "distinct state dicts"),
    ({"at": 1, "do": "scheduler-steps", "count": 101}, "'count' must be an integer 0..100"),
    ({"at": 1, "do": "add-param-group", "options": {"params": []}}, "no 'params'"),
    ({"at": 1, "do": "add-scheduler", "scheduler": {"scheduler": "ReduceLROnPlateau"}}, "an added ReduceLROnPlateau"),
    ({"at": 1, "do": "wrap-optimizer-step", "count": 2}, "wrap-optimizer-step takes"),
    ({"at": 1, "do": "resume", "load": ["scheduler"], "weights_only": 1}, "'weights_only' must be true or false"),
]


@pytest.mark.parametrize("action, message", REFUSED, ids=[r[1][:30] for r in REFUSED])
def test_the_parser_refuses_what_the_language_does_not_say(action, message):
    with pytest.raises(CaseError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6, interventions=[action])


def test_no_resume_after_an_added_scheduler():
    added = {"at": 1, "do": "add-scheduler", "scheduler": {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}}
    with pytest.raises(CaseError, match="a resume after add-scheduler"):
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6,
                  interventions=[added, {"at": 3, "do": "resume", "load": ["optimizer"]}])


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="the mutant copies torch 2.13.0's StepLR (the reference env runs it)")
def test_a_checkpoint_weights_only_refuses_is_an_error_event_of_phase_resume():
    """weights_only = true reaches torch.load: a state dict holding a function fails to load (phase resume),
    the same checkpoint read with weights_only = false (stated, or not: the default) resumes."""
    from fakes.loop_mutants import StepLRSavesAFunction

    adapter = StepLRSavesAFunction()
    traces = {}
    for stated in (True, False, None):
        resume = {"at": 3, "do": "resume", "load": ["optimizer", "scheduler"]}
        if stated is not None:
            resume["weights_only"] = stated
        case = make_case("steplr/weights-only", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6,
                         interventions=[resume])
        traces[stated] = adapter.trace(case)
    error = traces[True].error
    assert (error.step, error.phase, error.type) == (3, "resume", "UnpicklingError")
    assert len(traces[True].observations) == 3
    assert traces[False].error is None and traces[False] == traces[None] and len(traces[None].observations) == 6
