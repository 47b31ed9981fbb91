"""What a scheduler is built on (`on`, `{ none = true }` children, spec 2.5) and a state dict loaded twice
(`load` listing it twice, spec 4.5):

- each new feature is needed by some case, and each case needing one is pinned by a golden;
- a copy of torch changed only where these cases look (fakes/reach_mutants.py) passes every other case of its
  scheduler and fails some of these;
- an adapter that does not declare the features gets the cases as unsupported, never as failures;
- the case parser refuses what the language does not say, one line each; the snippet builds what the case says.
"""

from __future__ import annotations

import pytest
from fakes import faults as ft
from fakes.reach_mutants import MUTANTS
from helpers import make_case

from conformance import golden, runner
from conformance.cases import CaseError, load_cases
from conformance.model import Status
from conformance.snippet import torch_snippet

CASES = load_cases()
NEW_FEATURES = ("wrong_objects", "reused_state_dict")


@pytest.fixture(scope="module")
def store():
    return golden.load()


def test_every_new_feature_is_needed_by_a_pinned_case(store):
    for feature in NEW_FEATURES:
        needing = [case.id for case in CASES if feature in case.features()]
        assert needing, feature
        assert all(case_id in store.entries for case_id in needing)


def _installed_release() -> str:
    import torch

    return torch.__version__.split("+", 1)[0]


@pytest.mark.skipif(_installed_release() != golden.REFERENCE_RELEASE,
                    reason="the mutants copy torch 2.13.0's internals (the reference env runs them)")
@pytest.mark.parametrize("mutant, feature", MUTANTS, ids=[m.label for m, _ in MUTANTS])
def test_a_mutant_only_these_cases_show_fails_run(store, mutant, feature):
    adapter = mutant()
    (scheduler,) = mutant.replaces
    mine = [case for case in CASES if scheduler in case.schedulers]
    others = [case for case in mine if feature not in case.features()]
    outcomes = runner.run_cases(adapter, others, store)
    assert {o.status for o in outcomes} == {Status.PASS}, [(o.case_id, o.detail) for o in outcomes
                                                           if o.status is not Status.PASS]
    caught = [o.case_id for o in runner.run_cases(adapter, [c for c in mine if c not in others], store)
              if o.status in (Status.FAIL, Status.ERROR)]
    assert caught, f"{mutant.label} passes every case needing {feature}"


def test_an_adapter_without_the_features_gets_them_unsupported(store):
    cases = [case for case in CASES if case.schedulers == {"StepLR"} and "wrong_objects" in case.features()]
    assert cases
    outcomes = runner.run_cases(ft.StepAdapter(), cases, store)
    assert {o.status for o in outcomes} == {Status.UNSUPPORTED}


COMPOSITE = {"scheduler": "SequentialLR", "kwargs": {"milestones": [2]}}
STAGE = {"scheduler": "StepLR", "kwargs": {"step_size": 2}}


@pytest.mark.parametrize("overrides, message", [
    ({"on": "second-optimizer"}, "'on' must be one of ['optimizer', 'none'], got 'second-optimizer'"),
    ({"on": "nothing"}, "'on' must be one of"),
    ({**COMPOSITE, "children": [STAGE, {**STAGE, "on": "elsewhere"}]}, "case.children[1]: 'on' must be one of"),
    ({**COMPOSITE, "children": [STAGE, {"none": True, "scheduler": "StepLR"}]},
     "case.children[1]: a none child is exactly { none = true }"),
    ({**COMPOSITE, "children": [STAGE, {"none": False}]}, "a none child is exactly { none = true }"),
    ({**COMPOSITE, "children": [STAGE, {"none": 1}]}, "a none child is exactly { none = true }"),
    ({"scheduler": "ChainedScheduler", "on": "none", "children": [STAGE]}, "needs kwargs.optimizer = true"),
    ({**COMPOSITE, "children": [STAGE, {**STAGE, "on": "second-optimizer"}], "protocol": "resume-state-dict",
      "resume_at": 2}, "a child on the second optimizer cannot be resumed"),
    ({"interventions": [{"at": 1, "do": "resume", "load": ["scheduler", "scheduler", "scheduler"]}]},
     "each at most twice"),
    ({"interventions": [{"at": 1, "do": "add-scheduler", "scheduler": {**STAGE, "on": "none"}}]},
     "'scheduler' must be a table with keys"),
])
def test_the_parser_refuses_what_the_language_does_not_say(overrides, message):
    with pytest.raises(CaseError) as caught:
        make_case(**overrides)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_features_follow_the_data():
    assert "wrong_objects" in make_case(on="none").features()
    assert "wrong_objects" in make_case(**COMPOSITE, children=[STAGE, {"none": True}]).features()
    assert "wrong_objects" in make_case(**COMPOSITE, children=[STAGE, {**STAGE, "on": "second-optimizer"}]).features()
    assert "wrong_objects" not in make_case(**COMPOSITE, children=[STAGE, {**STAGE, "on": "optimizer"}]).features()
    reload = make_case(interventions=[{"at": 1, "do": "resume", "load": ["optimizer", "scheduler", "scheduler"]}])
    assert "reused_state_dict" in reload.features()
    once = make_case(interventions=[{"at": 1, "do": "resume", "load": ["optimizer", "scheduler"]}])
    assert "reused_state_dict" not in once.features()


def test_the_snippet_builds_what_the_case_says():
    by_id = {case.id: case for case in CASES}
    assert "lr_scheduler.StepLR(None, step_size=3)" in torch_snippet(by_id["steplr/built-on-none"])
    second = torch_snippet(by_id["sequentiallr/child-on-second-optimizer"])
    assert "optimizer2 = torch.optim.SGD(groups2" in second
    assert "lr_scheduler.ExponentialLR(optimizer2, gamma=0.9)" in second
    assert "schedulers=[s0, None]" in torch_snippet(by_id["sequentiallr/none-child"])
    twice = torch_snippet(by_id["lambdalr/state-dict-loaded-twice"])
    assert twice.count('scheduler.load_state_dict(state["scheduler"])') == 2


def test_fuzz_writes_and_strips_these_cases_as_they_are():
    from dataclasses import replace

    from conformance.fuzz.attribution import without
    from conformance.fuzz.emit import case_block

    mine = [case for case in CASES if set(NEW_FEATURES) & case.features()]
    for case in mine:
        block = case_block(replace(case, source=""))  # raises where the block reads back as another case
        assert ("none = true" in block) == any(None in s.children for s in case.scheduler.walk())
        assert without(case, {"ConstantLR.factor"}) is not None
