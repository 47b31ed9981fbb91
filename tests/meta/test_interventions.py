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
    ({"at": 1, "do": "resume", "load": ["scheduler", "scheduler", "scheduler"]}, "each at most twice"),
    ({"at": 1, "do": "scheduler-steps", "count": 101}, "'count' must be an integer 0..100"),
    ({"at": 1, "do": "add-param-group", "options": {"params": []}}, "no 'params'"),
    ({"at": 1, "do": "add-scheduler", "scheduler": {"scheduler": "ReduceLROnPlateau"}}, "an added ReduceLROnPlateau"),
    ({"at": 1, "do": "wrap-optimizer-step", "count": 2}, "wrap-optimizer-step takes"),
    ({"at": 1, "do": "resume", "load": ["scheduler"], "weights_only": 1}, "'weights_only' must be true or false"),
    ({"at": 1, "do": "read-scheduler", "attribute": "lr"}, "'attribute' must be one of"),
    ({"at": 1, "do": "read-scheduler"}, "read-scheduler needs ['attribute']"),
    ({"at": 1, "do": "read-scheduler", "attribute": "last_epoch", "value": 1}, "read-scheduler takes"),
    ({"at": 1, "do": "set-scheduler", "attribute": "T_i", "value": 4}, "'attribute' must be one of"),
    ({"at": 1, "do": "set-scheduler", "attribute": "last_epoch"}, "set-scheduler needs ['value']"),
    ({"at": 1, "do": "set-scheduler", "attribute": "last_epoch", "value": 1.5}, "'value' of last_epoch must be an integer"),
    ({"at": 1, "do": "set-scheduler", "attribute": "base_lrs", "value": 0.1}, "'value' of base_lrs must be a non-empty list"),
    ({"at": 1, "do": "set-scheduler", "attribute": "T_cur", "value": 2}, "writes T_cur, which a StepLR does not have"),
    ({"at": 1, "do": "set-scheduler", "attribute": "min_lrs", "value": [0.1]}, "writes min_lrs, which a StepLR does not"),
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


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="the fake copies torch 2.13.0's schedulers (the reference env runs it)")
def test_a_last_epoch_that_stops_fails_only_the_cases_that_read_it(store):
    """fakes/attribute_mutants.py: lrs, events and state dicts are torch's, only the last_epoch a user reads stops
    at 5. Every case of its schedulers passes but those reading last_epoch past step 5, which FAIL (issue 17:
    m0611, m0649 and m0650 of CosineAnnealingWarmRestarts survived this way)."""
    from fakes.attribute_mutants import SCHEDULERS, STOP, LastEpochStops

    chosen = [case for case in CASES if case.schedulers & set(SCHEDULERS)]
    reads = {case.id for case in chosen if any(a.do == "read-scheduler" and a.attribute == "last_epoch"
                                                 and a.at > STOP for a in case.interventions)}
    assert {"steplr/last-epoch-set-by-hand", "cosineannealingwarmrestarts/last-epoch-read-after-a-restart",
            "reducelronplateau/counters-read-in-cooldown"} <= reads
    outcomes = {o.case_id: o for o in runner.run_cases(LastEpochStops(), chosen, store)}
    failed = {case_id for case_id, o in outcomes.items() if o.status is Status.FAIL}
    assert failed == reads, {i: outcomes[i].detail for i in failed ^ reads}
    assert all(o.status is Status.PASS for i, o in outcomes.items() if i not in reads)
    assert "last_epoch (value)" in outcomes["steplr/last-epoch-set-by-hand"].detail


def _read_case(**overrides):
    data = {"scheduler": "CosineAnnealingWarmRestarts", "kwargs": {"T_0": 2}, "groups": [{"lr": 0.1}, {"lr": 0.2}],
            "steps": 4, **overrides}
    return make_case("cosineannealingwarmrestarts/read", **data)


def test_a_read_is_one_value_event_per_element_of_phase_call():
    """read-scheduler (spec 4.5): a scalar is one value event, a list one per element, typed by the attribute,
    the message the repr of the Python number (an int stays an int); reading changes nothing."""
    from conformance.adapters.torch_reference import TorchAdapter

    reads = [{"at": 3, "do": "read-scheduler", "attribute": name} for name in ("last_epoch", "T_cur", "base_lrs")]
    trace = TorchAdapter().trace(_read_case(interventions=reads))
    assert [(e.step, e.phase, e.kind, e.type, e.message) for e in trace.events] == [
        (3, "call", "value", "last_epoch", "3"), (3, "call", "value", "T_cur", "1"),
        (3, "call", "value", "base_lrs", "0.1"), (3, "call", "value", "base_lrs", "0.2")]
    assert trace.observations == TorchAdapter().trace(_read_case()).observations


def test_an_attribute_the_scheduler_lacks_is_an_attribute_error_that_ends_the_trace():
    from conformance.adapters.torch_reference import TorchAdapter

    trace = TorchAdapter().trace(_read_case(interventions=[{"at": 2, "do": "read-scheduler", "attribute": "best"}]))
    assert (trace.error.step, trace.error.phase, trace.error.type) == (2, "call", "AttributeError")
    assert max(o.step for o in trace.observations) == 1


def test_a_set_scheduler_is_a_setattr_of_phase_intervene_before_the_iteration():
    """set-scheduler writes before the iteration's observe and steps: T_cur = 2 at iteration 1 (where it is 1)
    makes that iteration's scheduler step reach T_0 = 3, a restart one step early."""
    from conformance.adapters.torch_reference import TorchAdapter

    actions = [{"at": 1, "do": "set-scheduler", "attribute": "T_cur", "value": 2},
               {"at": 2, "do": "read-scheduler", "attribute": "T_cur"}]
    case = _read_case(interventions=actions, kwargs={"T_0": 3})
    trace, plain = TorchAdapter().trace(case), TorchAdapter().trace(_read_case(kwargs={"T_0": 3}))
    assert [(e.step, e.type, e.message) for e in trace.events] == [(2, "T_cur", "0")]
    lrs = {(o.step, o.group): o.lr for o in trace.observations}
    assert [lrs[1, 0], lrs[2, 0], lrs[2, 1]] == [plain.observations[2].lr, 0.1, 0.2]  # observed at 1 before the set
    assert [o.lr for o in plain.observations if o.step == 2] != [0.1, 0.2]


def test_an_adapter_without_the_methods_names_the_feature():
    from conformance.adapters.base import Session

    class Bare(Session):
        def lrs(self):
            return [0.1]

        def optimizer_step(self):
            pass

        def scheduler_step(self, metric=None, epoch=None):
            pass

    with pytest.raises(NotImplementedError, match="read_scheduler feature"):
        Bare().read_scheduler("last_epoch")
    with pytest.raises(NotImplementedError, match="set_scheduler feature"):
        Bare().set_scheduler("last_epoch", 1)
