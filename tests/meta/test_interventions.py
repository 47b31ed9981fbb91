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
from conformance.model import FEATURES, INTERVENTION_FEATURES, INTERVENTIONS, AdapterInfo, Status

CASES = load_cases()
STEPLR = [case for case in CASES if case.schedulers == {"StepLR"}]


@pytest.fixture(scope="module")
def store():
    return golden.load()


def test_every_intervention_is_pinned():
    used = {action.do for case in CASES for action in case.interventions}
    assert used == set(INTERVENTIONS)
    needed = set().union(*(case.features() for case in CASES))
    assert set(INTERVENTION_FEATURES.values()) | {"add_scheduler_from", "replace_scheduler"} <= needed


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


EXP = {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}
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
    ({"at": 3, "do": "add-scheduler", "from": 2, "scheduler": EXP}, "'from' must be an iteration 3..5 (not before 'at'"),
    ({"at": [1, 4], "do": "add-scheduler", "from": 3, "scheduler": EXP}, "'from' must be an iteration 4..5"),
    ({"at": 1, "do": "add-scheduler", "from": 6, "scheduler": EXP}, "'from' must be an iteration 1..5"),
    ({"at": 1, "do": "add-scheduler", "from": 2.0, "scheduler": EXP}, "'from' must be an iteration >= 'at'"),
    ({"at": 1, "do": "add-scheduler", "replace": 1, "scheduler": EXP}, "'replace' must be true or false"),
    ({"at": 1, "do": "add-scheduler", "replace": True, "first": True, "scheduler": EXP},
     "'first' has no meaning with 'replace'"),
    ({"at": [1, 2], "do": "add-scheduler", "replace": True, "scheduler": EXP}, "more than one add-scheduler with "
     "replace"),
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
    ({"at": 1, "do": "change-argument", "multiply": 0.5}, "change-argument needs ['argument']"),
    ({"at": 1, "do": "change-argument", "argument": "lr", "group": 0}, "exactly one of 'multiply'"),
    ({"at": 1, "do": "change-argument", "argument": "lr", "group": 0, "multiply": 0.5, "value": 1.0},
     "exactly one of 'multiply'"),
    ({"at": 1, "do": "change-argument", "argument": "lr", "group": 0, "multiply": "half"}, "'multiply' must be a number"),
    ({"at": 1, "do": "change-argument", "argument": "lr", "multiply": 0.5}, "argument \"lr\" needs 'group'"),
    ({"at": 1, "do": "change-argument", "argument": "lr", "group": 0, "multiply": 0.5}, "group 0's lr is a float"),
    ({"at": 1, "do": "change-argument", "argument": "gamma", "multiply": 0.5}, "'gamma' is not a tensor argument"),
    ({"at": 1, "do": "change-argument", "argument": "gamma", "group": 0, "value": 0.5}, "gamma is not a per-group list"),
]


@pytest.mark.parametrize("action, message", REFUSED, ids=[r[1][:30] for r in REFUSED])
def test_the_parser_refuses_what_the_language_does_not_say(action, message):
    with pytest.raises(CaseError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6, interventions=[action])


class _Calls(ft.StepSession):
    """The torch-free StepLR session, recording which scheduler each step call reached: "case", or an added
    one's gamma."""

    def __init__(self, case, log: list, name="case") -> None:
        super().__init__(case)
        self.log, self.name = log, name

    def scheduler_step(self, metric=None, epoch=None) -> None:
        self.log.append(self.name)
        super().scheduler_step(metric, epoch)

    def add_scheduler(self, spec):
        return _Calls(self.case, self.log, spec.kwargs["gamma"])


class _CallsAdapter:
    info = AdapterInfo("calls", "1", frozenset({"StepLR", "ExponentialLR"}), frozenset(FEATURES), frozenset())

    def __init__(self) -> None:
        self.log: list = []

    def build(self, case):
        return _Calls(case, self.log)


def _added(at, gamma: float, **keys) -> dict:
    return {"at": at, "do": "add-scheduler", "scheduler": {"scheduler": "ExponentialLR", "kwargs": {"gamma": gamma}},
            **keys}


def test_the_runner_steps_an_added_scheduler_from_its_from_and_stops_the_replaced_one():
    """spec 4.5's loop: an added scheduler is stepped from `from` on (absent: `at`), the case's scheduler no more
    once an added one with `replace` has reached its `from`; a scheduler-steps count repeats the whole set."""
    later, now, switch = 0.1, 0.2, 0.3
    adapter = _CallsAdapter()
    case = make_case("steplr/calls", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=5, interventions=[
        _added(0, later, **{"from": 2}), _added(1, now, first=True), _added(0, switch, **{"from": 3, "replace": True}),
        {"at": 4, "do": "scheduler-steps", "count": 2}])
    trace = runner.drive(case, adapter)
    assert trace.error is None and len(trace.observations) == 5
    assert adapter.log == ["case",  # 0: only the case's (the added ones wait for their from)
                           now, "case",  # 1: `now` from its at, stepped first
                           now, "case", later,  # 2: `later` from its from
                           now, later, switch,  # 3: switched: the case's scheduler no more
                           now, later, switch, now, later, switch]  # 4: twice


def test_no_resume_after_an_added_scheduler():
    added = {"at": 1, "do": "add-scheduler", "scheduler": {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}}
    with pytest.raises(CaseError, match="a resume after add-scheduler"):
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6,
                  interventions=[added, {"at": 3, "do": "resume", "load": ["optimizer"]}])
    with pytest.raises(CaseError, match="a resume after add-scheduler"):  # later in the same iteration's list
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6,
                  interventions=[added, {"at": 1, "do": "resume", "load": ["optimizer"]}])
    with pytest.raises(CaseError, match="a resume after add-scheduler"):
        make_case("steplr/refused", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6, protocol="resume-state-dict",
                  resume_at=2, interventions=[added])
    # a resume before it in loop order builds the objects it is added to (torch's test_lr_scheduler_checkpoint)
    make_case("steplr/allowed", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6,
              interventions=[{"at": 1, "do": "resume", "load": ["optimizer"]}, added])
    make_case("steplr/allowed", kwargs={"step_size": 2}, groups=[{"lr": 0.1}], steps=6, protocol="resume-state-dict",
              resume_at=1, interventions=[added])


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


def _changed_case(**overrides):
    data = {"scheduler": "CyclicLR", "groups": [{"lr": 0.1, "tensor_lr": True}, {"lr": 0.2}],
            "kwargs": {"base_lr": 0.01, "max_lr": [{"tensor": 0.1}, 0.2], "step_size_up": 2}, "steps": 4, **overrides}
    return make_case("cycliclr/changed", **data)


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="torch 2.13.0's copies and in-place writes; before 2.4 the user's tensor was initial_lr and "
                           "base_lrs itself, 2.4-2.9 get_last_lr() aliased it (docs/matrix/changes.toml)")
def test_a_change_is_in_place_before_the_iteration_and_records_nothing():
    """change-argument (spec 4.5) changes the user's tensor at the start of iteration `at`, before its observe:
    the group's lr tensor is the user's (the change shows at once); element 0 of the max_lr list is a copy
    in CyclicLR's max_lrs (the peak does not move). It records no event."""
    from conformance.adapters.torch_reference import TorchAdapter

    plain = TorchAdapter().trace(_changed_case())
    trace = TorchAdapter().trace(_changed_case(interventions=[
        {"at": 1, "do": "change-argument", "argument": "lr", "group": 0, "value": 0.5},
        {"at": 1, "do": "change-argument", "argument": "max_lr", "group": 0, "multiply": 10.0}]))
    lrs = {(o.step, o.group): o.lr for o in trace.observations}
    assert trace.events == plain.events == ()
    assert lrs[1, 0] == 0.5 and lrs[1, 1] == plain.observations[3].lr  # filled in place; the float group untouched
    assert [lrs[2, 0], lrs[3, 0]] == [o.lr for o in plain.observations if o.group == 0][2:]  # the peak stays 0.1


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="torch 2.13.0's copies and in-place writes; before 2.4 the user's tensor was initial_lr and "
                           "base_lrs itself, 2.4-2.9 get_last_lr() aliased it (docs/matrix/changes.toml)")
def test_a_user_tensor_kept_instead_of_a_copy_fails_only_the_cases_that_change_it(store):
    """A port that keeps the user's swa_lr / max_lr tensor instead of a copy (fakes/argument_mutants.py) passes
    every SWALR and CyclicLR case that leaves the user's swa_lr / max_lr alone, and fails the three that change
    them before a resume (after one, the loaded state dicts replace the aliases)."""
    from fakes.argument_mutants import ArgumentsAliased

    chosen = [case for case in CASES if case.schedulers & {"SWALR", "CyclicLR"}]
    outcomes = {o.case_id: o for o in runner.run_cases(ArgumentsAliased(), chosen, store)}
    failed = {i for i, o in outcomes.items() if o.status is Status.FAIL}
    assert failed == {"swalr/tensor-swa-lr-changed-in-place", "swalr/tensor-swa-lr-changed-then-scheduler-added",
                      "cycliclr/tensor-args-changed-in-place"}, \
        {i: outcomes[i].detail for i in failed}
    assert all(o.status in (Status.PASS, Status.UNSUPPORTED) for i, o in outcomes.items() if i not in failed)


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
    with pytest.raises(NotImplementedError, match="change_argument feature"):
        Bare().change_argument("lr", 0, 0.5, None)


def _torch_loop(case_id: str) -> list[float]:
    """The lrs torch's own test loop observes, written as torch's test writes it (test/optim/test_lrscheduler.py):
    both schedulers built before the first step, the loop choosing which one steps."""
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR, CyclicLR, MultiplicativeLR
    from torch.optim.swa_utils import SWALR

    if case_id == "cosineannealinglr/then-cyclic-switched-by-hand":  # test_cosine_then_cyclic, pytorch#21965
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        first = CosineAnnealingLR(optimizer, T_max=20, eta_min=0.1)
        second = CyclicLR(optimizer, base_lr=0.1, max_lr=0.3, step_size_up=1, step_size_down=3)
        steps, switch = 40, lambda i: i > first.T_max
    else:  # _test_swalr of test_swalr_{cosine,linear}_anneal_after_multiplicative
        optimizer = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))]},
                                     {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5}], lr=0.05)
        first = MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.9)
        linear = case_id.endswith("linear")
        second = SWALR(optimizer, **({"anneal_epochs": 4, "anneal_strategy": "linear", "swa_lr": [0.01, 0.02]}
                                     if linear else {"anneal_epochs": 5, "swa_lr": 0.01}))
        steps, switch = 15, lambda i: i >= 5
    lrs = []
    for i in range(steps):
        lrs += [float(group["lr"]) for group in optimizer.param_groups]
        optimizer.step()
        (second if switch(i) else first).step()
    return lrs


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE, reason="the goldens are torch 2.13.0's")
@pytest.mark.parametrize("case_id", ["swalr/switched-from-multiplicative-cosine",
                                     "swalr/switched-from-multiplicative-linear",
                                     "cosineannealinglr/then-cyclic-switched-by-hand"])
def test_a_switch_golden_is_what_torchs_own_test_loop_observes(store, case_id):
    """add-scheduler's `from` and `replace` (spec 4.5) say torch's switching loops: the golden the runner wrote
    through them is, bit for bit, what torch's test observes without the harness."""
    case = next(case for case in CASES if case.id == case_id)
    expected, _ = store.expected(case, golden.REFERENCE_RELEASE)
    assert [o.lr for o in expected.observations] == _torch_loop(case_id)
