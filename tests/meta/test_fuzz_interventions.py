"""`lr-conformance fuzz` draws interventions (docs/spec.md 4.5; conformance/fuzz/strategies.py):

- untargeted, now and then (about one case in eight), so that a seed's span of everything else stays;
- targeted (`Scope.interventions`, `fuzz --intervention`), every case has one of the kinds aimed at: CI's
  seeded draws see every kind and its variants, and only what the case language and the runner take;
- a finding with interventions is a valid [[case]] block (`check`'s schema and parser both take it);
- each loop mutant (fakes/loop_mutants.py: torch changed only in an intervention loop) is found within a
  seeded budget, and shrinking leaves the one action it needs.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from fakes import loop_mutants
from test_fuzz import ROOT, FULL, draw_many, fuzz_cache, hypothesis_outside_the_checkout, torch_adapter  # noqa: F401

from conformance import cases as cases_mod, schemas
from conformance.cli import main
from conformance.fuzz import emit, search, strategies
from conformance.fuzz.differential import Kind
from conformance.model import FEATURES, INTERVENTIONS, READABLE_ATTRIBUTES, SETTABLE_ATTRIBUTES, has_attribute

# The fuzzer's own machinery, calibrated on the reference torch 2.13.0: seeded draws, budgets and the known
# differences' diagnoses assume its signatures (on 1.13.1 the drawn ChainedScheduler(optimizer=...) is
# inexpressible and the attribution reads other traces). No release but the newest of a pair is ever fuzz's
# reference (tools/fuzz_releases.py): tox runs these in the reference env only.
pytestmark = pytest.mark.release_independent

# The mutants and the intervention that shows each (tests/meta/test_interventions.py runs them on the goldens).
SHOWN_BY = {
    loop_mutants.StepLRChainsOwnLr: "set",
    loop_mutants.StepLRCountsOptimizerSteps: "skip-optimizer-step",
    loop_mutants.StepLRQuietGetLr: "call",
    loop_mutants.StepLRLoadSetsLr: "resume",
}


def targeted(*kinds: str, top=()) -> strategies.Scope:
    return strategies.Scope(frozenset(cases_mod.SCHEDULERS), frozenset(FEATURES), top=frozenset(top),
                            interventions=frozenset(kinds))


@pytest.fixture(scope="module")
def drawn_by_kind() -> dict[str, list[dict]]:
    return {do: draw_many(targeted(do), 100) for do in INTERVENTIONS}


def actions(data: dict, do: str | None = None) -> list[dict]:
    return [a for a in data.get("interventions", []) if do is None or a["do"] == do]


def test_untargeted_cases_have_interventions_now_and_then():
    drawn = draw_many(FULL, 800)
    share = sum(bool(actions(data)) for data in drawn) / len(drawn)
    assert 0.03 <= share <= 0.25, share  # modest: the rest of the language keeps its span at a seed
    seen = {a["do"] for data in drawn for a in actions(data)}
    assert set(strategies.COMMON_INTERVENTIONS) <= seen, seen


def variants(action: dict) -> set[str]:
    """What a drawn action is, one label per thing about it a span should cover."""
    found = {"at 0" if action["at"] == 0 else "later"}
    for key, value in action.items():
        if key == "scheduler":
            found.add(f"scheduler {value['scheduler']}")
        elif key == "options":
            found.add(f"options {sorted(value)}")
        elif key == "from":  # add-scheduler: stepped from its `at` (said or not) or from a later iteration
            found.add("from later" if value > action["at"] else "from at")
        elif key not in ("at", "do", "value"):
            found.add(f"{key} {value}")
    return found | ({"no keys"} if set(action) == {"at", "do"} else set())


# Every variant of each kind a targeted scope must draw at seed 0 (iteration 0 and a later one for each).
SPAN = {
    "skip-optimizer-step": {"no keys"},
    "scheduler-steps": {f"count {n}" for n in strategies.SCHEDULER_STEP_COUNTS},
    "wrap-optimizer-step": {"no keys", "keep_attributes True", "keep_attributes False"},
    "set": {"group 0", "group 1", "group 2", "key lr", "key initial_lr", "key momentum"},
    "add-param-group": {"no keys", "options ['lr']", "options ['lr', 'momentum']", "options ['initial_lr', 'lr']"},
    "add-scheduler": {"scheduler SequentialLR", "scheduler ChainedScheduler", "scheduler CosineAnnealingLR",
                      "first True", "first False", "from later", "replace True"},
    "call": {"method get_lr", "method get_last_lr"},
    "resume": {f"load {list(load)}" for load in strategies.LOADS + strategies.RELOADS},
    "read-scheduler": {f"attribute {name}" for name in READABLE_ATTRIBUTES},
    # T_cur only on a CosineAnnealingWarmRestarts: test_set_scheduler_writes_t_cur_on_warm_restarts
    "set-scheduler": {"attribute last_epoch", "attribute base_lrs", "attribute min_lrs"},
    "change-argument": {"argument lr", "group 0", "group 1", *(f"multiply {m}" for m in strategies.FACTORS)},
}


def test_every_intervention_kind_and_its_variants_are_drawn_in_its_targeted_scope(drawn_by_kind):
    missing = {}
    for do, drawn in drawn_by_kind.items():
        assert all({a["do"] for a in actions(data)} <= {do} for data in drawn)  # a targeted scope: its kinds only
        # every case has one, but where the action was an add that the resume of resume-state-dict would lose
        # (or a set-scheduler on a ChainedScheduler, which has no attribute a user may write)
        assert all(actions(data, do) or (do in strategies.ADDS and "resume_at" in data)
                   or (do == "set-scheduler" and data["scheduler"] == "ChainedScheduler") for data in drawn), do
        assert sum(bool(actions(data, do)) for data in drawn) >= 0.5 * len(drawn), do
        seen = set().union(*(variants(a) for data in drawn for a in actions(data, do)))
        missing[do] = sorted((SPAN[do] | {"at 0", "later"}) - seen)
    assert not any(missing.values()), missing


def test_a_state_dict_is_loaded_twice_only_where_resume_is_targeted():
    reloads = {tuple(load) for load in strategies.RELOADS}
    untargeted = [a for data in draw_many(FULL, 800) for a in actions(data, "resume")]
    assert untargeted and not any(tuple(a["load"]) in reloads for a in untargeted)
    undeclared = strategies.Scope(frozenset(cases_mod.SCHEDULERS), frozenset(FEATURES) - {"reused_state_dict"},
                                  interventions=frozenset({"resume"}))
    assert not any(tuple(a["load"]) in reloads for data in draw_many(undeclared, 100) for a in actions(data, "resume"))


def test_targeted_draws_are_cases_check_and_the_runner_take(drawn_by_kind):
    validators = schemas._case_validator()
    for data in (data for drawn in drawn_by_kind.values() for data in drawn):
        assert schemas.case_data_problems(data, validators) == [], data
        case = cases_mod.parse_case(data)  # the parser's rules of 4.5: one skip per iteration, ...
        for a in actions(data, "set"):  # only the case's own groups, only keys they have
            group = data["groups"][a["group"]]
            assert a["key"] != "momentum" or data["optimizer"]["name"] == "SGD"
            assert a["key"] != "initial_lr" or data["scheduler"] != "ReduceLROnPlateau" or "initial_lr" in group
        resumes = [a.at for a in case.interventions if a.do == "resume"] + [case.resume_at] * (case.resume_at is not None)
        for added in (a for a in case.interventions if a.do in strategies.ADDS):
            assert all(at < added.at for at in resumes), data  # a resume would lose what was added


def test_torch_against_itself_runs_every_targeted_kind(torch_adapter):
    """Nothing drawn is something the runner or the reference refuses: every case is graded and the same."""
    scope = strategies.scope_for(torch_adapter.info, torch_adapter.info, interventions=INTERVENTIONS)
    result = search.search(torch_adapter, type(torch_adapter)(), scope, search.Budget(max_examples=200), seed=0)
    assert result.finding is None, result.finding.reason
    assert dict(result.tally.kinds) == {Kind.SAME: 200}, result.tally.skipped


def test_a_finding_with_interventions_is_a_valid_case_block(tmp_path, drawn_by_kind):
    blocks = defaultdict(dict)  # family -> id -> block (hypothesis draws some cases twice: one id each)
    for data in (data for drawn in drawn_by_kind.values() for data in drawn[:25] if actions(data)):
        case = emit.finding_case(cases_mod.parse_case(data), "a difference")
        block = emit.case_block(case)  # checks that it reads back as the same case
        assert "interventions = [\n  { at = " in block  # one action per line, as the case files write them
        blocks[emit.family(case)][case.id] = block
    cases_dir = tmp_path / "cases"
    cases_dir.mkdir()
    for family, family_blocks in blocks.items():
        (cases_dir / f"{family}.toml").write_text("\n".join(family_blocks.values()))
    assert schemas.case_problems(cases_dir) == []  # `check`'s schema validation of case files
    assert len(cases_mod.load_cases(cases_dir)) == sum(map(len, blocks.values()))


@pytest.mark.parametrize("mutant", SHOWN_BY, ids=lambda mutant: mutant.__name__)
def test_a_loop_mutant_is_found_in_its_targeted_scope_and_shrunk_to_one_action(torch_adapter, mutant):
    candidate = mutant()
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["StepLR"], interventions=[SHOWN_BY[mutant]])
    result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=300), seed=0)
    assert result.finding is not None and not result.flaky
    case = result.finding.case
    # shrinking deletes actions one at a time: what is left is the one the mutant needs
    assert [a.do for a in case.interventions] == [SHOWN_BY[mutant]] and case.steps <= 4, emit.value(case.raw)


def test_untargeted_fuzz_finds_a_loop_mutant(torch_adapter):
    candidate = loop_mutants.StepLRCountsOptimizerSteps()
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["StepLR"])
    result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=300), seed=0)
    assert result.finding is not None
    assert [a.do for a in result.finding.case.interventions] == ["skip-optimizer-step"]


def test_fuzz_intervention_targets_a_kind_and_the_rerun_command_keeps_it(capsys):
    code = main(["fuzz", "--adapter", f"{loop_mutants.__file__}:StepLRQuietGetLr", "--scheduler", "StepLR",
                 "--intervention", "call", "--max-examples", "50", "--seed", "0", "-q"])
    out = capsys.readouterr().out
    assert code == 1, out
    block = out[out.index("[[case]]"):out.index("  torch (standalone")]
    assert [a.do for a in emit.parse_block(block).interventions] == ["call"]
    assert "--intervention call" in out


@pytest.mark.parametrize("kind, message", [
    ("nosuch", "--intervention nosuch: not one of the interventions (skip-optimizer-step, "),
    ("resume", "--intervention resume: --adapter tinysched does not declare partial_resume"),  # state_dict it has
])
def test_an_unknown_or_undeclared_intervention_is_a_usage_error(capsys, kind, message):
    tinysched = ROOT / "examples" / "tinysched" / "adapter.py"  # declares state_dict, and no intervention
    assert main(["fuzz", "--adapter", str(tinysched), "--intervention", kind, "--max-examples", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"lr-conformance: {message}"), err


def test_set_scheduler_writes_t_cur_on_warm_restarts_and_only_what_the_scheduler_has():
    drawn = draw_many(targeted("set-scheduler", top=["CosineAnnealingWarmRestarts"]), 60)
    written = {a["attribute"] for data in drawn for a in actions(data, "set-scheduler")}
    assert written == {"last_epoch", "base_lrs", "T_cur"}, written
    for data in draw_many(targeted("set-scheduler"), 100):
        for a in actions(data, "set-scheduler"):
            assert has_attribute(data["scheduler"], a["attribute"]), data
            shape = SETTABLE_ATTRIBUTES[a["attribute"]]
            assert isinstance(a["value"], list) == (shape == "list"), a
            assert shape != "list" or len(a["value"]) == len(data["groups"]), a


def test_a_last_epoch_that_stops_is_found_by_read_scheduler_and_shrunk_to_one_read(torch_adapter):
    """fakes/attribute_mutants.py: torch's lrs, a user-visible last_epoch that stops at 5 - only a read shows it."""
    from fakes.attribute_mutants import STOP, LastEpochStops

    candidate = LastEpochStops()
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["StepLR"], interventions=["read-scheduler"])
    result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=300), seed=0)
    assert result.finding is not None and not result.flaky
    (action,) = result.finding.case.interventions
    assert (action.do, action.attribute) == ("read-scheduler", "last_epoch") and action.at > STOP
