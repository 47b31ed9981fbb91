"""`fuzz --expectations/--known` matches a divergence to a listed case by symptom as well as by traits
(conformance/fuzz/known.py): a change that shows in endless shapes (a warning SequentialLR gains at its
milestones, whatever its stages) is listed once, not once per shape; the same symptom in a scheduler the
listed case does not have, and any value difference, are still findings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakes import deviants, symptoms
from helpers import make_case
from test_fuzz import fuzz_cache, hypothesis_outside_the_checkout, torch_adapter  # noqa: F401 - its fixtures

from conformance import compare, golden
from conformance.adapters.torch_reference import TorchAdapter
from conformance.cases import load_cases
from conformance.cli import main
from conformance.fuzz import differential, known, search, strategies
from conformance.fuzz.differential import Kind, Verdict
from conformance.model import Event, Trace

# The fuzzer's own machinery, calibrated on the reference torch 2.13.0: seeded draws, budgets and the known
# differences' diagnoses assume its signatures (on 1.13.1 the drawn ChainedScheduler(optimizer=...) is
# inexpressible and the attribution reads other traces). No release but the newest of a pair is ever fuzz's
# reference (tools/fuzz_releases.py): tox runs these in the reference env only.
pytestmark = pytest.mark.release_independent

LISTED = "sequentiallr/constant-then-exponential"  # milestone 3: the fake warns once, at step 2
WARNS = f"{symptoms.__name__}:SequentialWarnsAtMilestone"


def expectations(tmp_path: Path, case_id: str) -> Path:
    path = tmp_path / "listed.toml"
    path.write_text(f'[[differs]]\nid = "{case_id}"\nreason = "r"\n')
    return path


def listed(tmp_path, case_id, reference, candidate) -> list[known.Known]:
    store = golden.load()
    loaded = known.load([expectations(tmp_path, case_id)], load_cases(),
                        lambda case: store.expected(case, store.reference)[0])
    return known.diagnosed(loaded, reference, candidate)


# --- the symptom of a divergence -------------------------------------------------------------------------


def verdict(expected_events, actual_events, steps=6) -> Verdict:
    """The verdict of a StepLR case whose traces differ only by their events."""
    case = make_case("steplr/t", steps=steps)
    info = TorchAdapter().info
    expected, actual = Trace(events=tuple(expected_events)), Trace(events=tuple(actual_events))
    status, detail, divergence = compare.compare(case, expected, actual, info)
    return Verdict(Kind.DIVERGENT, case, detail, status, divergence, expected, actual)


def tried(times: int) -> Event:
    return Event(times - 1, "scheduler.step", "error", "ValueError",
                 f"Tried to step {times} times. The specified number of total steps is {times - 1}")


def test_a_missing_error_is_a_symptom_whatever_the_numbers_in_its_message():
    info = TorchAdapter().info
    three, four = (known.symptom(verdict([tried(n)], []), info) for n in (3, 4))
    assert three == known.Symptom("scheduler.step", "error:ValueError", None,
                                  "Tried to step # times. The specified number of total steps is #", "")
    assert four == three  # the numbers are the case's values, not the check
    other = Event(2, "scheduler.step", "error", "ValueError", "Expected non-negative epoch, but got -1")
    assert known.symptom(verdict([other], []), info) != three  # the same type from another check


def test_the_symptom_is_the_first_event_pair_that_differs_at_the_first_differing_step():
    info = TorchAdapter().info
    warn = Event(1, "scheduler.step", "warning", "UserWarning", "w")
    later = Event(4, "scheduler.step", "warning", "UserWarning", "later")
    # the candidate lacks the step-1 warning: compare pairs it with the step-4 one, the symptom does not
    assert known.symptom(verdict([warn, later], [later]), info) == known.Symptom(
        "scheduler.step", "warning:UserWarning", None, "w", "")
    # an extra warning among warnings both sides have (each child of a chain warns): it is the one extra
    order = Event(1, "scheduler.step", "warning", "UserWarning", "Detected call of `lr_scheduler.step()` ...")
    epoch = Event(1, "scheduler.step", "warning", "UserWarning", "The epoch parameter ...")
    assert known.symptom(verdict([order, order, order], [order, epoch, order, order]), info) == known.Symptom(
        "scheduler.step", None, "warning:UserWarning", "", "The epoch parameter ...")
    # an error at an earlier phase of the same step than the warning the reference has there
    raised = Event(1, "optimizer.step", "error", "RuntimeError", "r")
    assert known.symptom(verdict([warn], [raised]), info) == known.Symptom(
        "optimizer.step", None, "error:RuntimeError", "", "r")


def test_an_intervention_event_is_ranked_where_its_phase_runs():
    """A `call` (spec 4.5) runs before the iteration observes: the warning it lacks is the symptom, not the
    error the candidate meets later in that step."""
    info = TorchAdapter().info
    get_lr = Event(0, "call", "warning", "UserWarning", "To get the last learning rate ...")
    raised = Event(0, "observe", "error", "RuntimeError", "r")
    assert known.symptom(verdict([get_lr], [raised]), info) == known.Symptom(
        "call", "warning:UserWarning", None, "To get the last learning rate ...", "")


# --- the search goes past other shapes of a listed symptom ------------------------------------------------


def past_every_finding(fuzz: list[str], staging: Path, capsys, rounds: int = 5) -> tuple[str, list[str]]:
    """Run `fuzz` as a campaign does (docs/fuzzing.md): the same seed again, each finding recorded in `staging`
    and known to the next round, until a round finds nothing. Returns that round's output and the first
    difference of each finding that stopped a round. The phase is part of a symptom, so the same warning met
    in another phase - a nested SequentialLR stepped while its parent is built (`construct`), a SequentialLR
    an intervention added (`added-scheduler.step`) - is a new finding once; which of those shapes a seed meets
    in its first examples is the luck of hypothesis' draws, which any change to the strategies reshuffles."""
    seen = []
    for _ in range(rounds):
        known_ones = ["--known", str(staging)] if staging.exists() else []
        code = main([*fuzz, "--record", str(staging), *known_ones])
        out = capsys.readouterr().out
        if code == 0:
            return out, seen
        assert code == 1, out
        seen.append(known.template(re.search(r"what: +step \d+ event: (.*)", out).group(1)))
    raise AssertionError(f"still finding after {rounds} rounds: {seen}")


def test_one_listed_case_explains_its_symptom_in_other_shapes(capsys, tmp_path, monkeypatch):
    fuzz = ["fuzz", "--adapter", WARNS, "--scheduler", "SequentialLR", "--max-examples", "150", "--seed", "0",
            "--expectations", str(expectations(tmp_path, LISTED)), "-q"]
    out, stopped_at = past_every_finding(fuzz, tmp_path / "staging.toml", capsys)
    assert f"{LISTED} (" in out and "by symptom" in out
    by_symptom = int(out.split(" by symptom")[0].rsplit(" ", 1)[-1])
    assert by_symptom > 0, out
    # the listed case's own symptom (the warning at a milestone, in scheduler.step) never stopped a round, and no
    # recorded finding's did twice: each explained its symptom in every other shape
    assert not any(" in scheduler.step: " in what for what in stopped_at), stopped_at
    assert len(set(stopped_at)) == len(stopped_at), stopped_at
    # by traits alone (no symptoms) the same run stops at another shape of the same warning
    monkeypatch.setattr(known, "diagnosed", lambda items, reference, candidate: list(items))
    code = main(fuzz)
    out = capsys.readouterr().out
    assert code == 1, out
    assert "DIVERGENCE" in out and "UserWarning" in out


def test_a_listed_symptom_in_a_scheduler_the_listed_case_lacks_is_still_a_finding(torch_adapter, tmp_path):
    candidate = symptoms.SequentialAndStepLRWarn()
    items = listed(tmp_path, LISTED, torch_adapter, candidate)
    assert items[0].symptom == known.Symptom("scheduler.step", None, "warning:UserWarning", "",
                                             known.template(torch_adapter_epoch_warning()))
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["StepLR"])
    result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=150), seed=0, listed=items)
    assert result.finding is not None and "SequentialLR" not in result.finding.case.schedulers
    info = differential.grading_info(torch_adapter.info, candidate.info)
    assert known.symptom(result.finding, info) == items[0].symptom  # the same symptom, no scheduler in common


def torch_adapter_epoch_warning() -> str:
    import torch.optim.lr_scheduler as torch_schedulers

    from conformance.traces import short_message

    return short_message(torch_schedulers.EPOCH_DEPRECATION_WARNING)


def test_value_differences_have_no_symptom_and_stay_findings(torch_adapter, tmp_path):
    candidate = deviants.CosineClamped()
    # a resumed cosine case past T_max: the clamp shows there, in the lr only
    items = listed(tmp_path, "cosineannealinglr/resume-state-dict-past-tmax", torch_adapter, candidate)
    assert items[0].symptom is None
    check = differential.check(items[0].case, torch_adapter, candidate)
    assert check.kind is Kind.DIVERGENT and check.divergence.column == "lr"  # it does differ, by a value
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["CosineAnnealingLR"])
    result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=300), seed=0, listed=items)
    assert result.finding is not None and "state_dict" not in result.finding.case.features()
    assert result.tally.explained_by["symptom"] == 0


def test_a_listed_case_the_two_agree_on_has_no_symptom(torch_adapter, tmp_path):
    items = listed(tmp_path, LISTED, torch_adapter, deviants.CosineClamped())
    assert items[0].symptom is None and items[0].traits >= {"scheduler:SequentialLR"}


def test_a_recorded_finding_explains_its_symptom_in_other_shapes(capsys, tmp_path, monkeypatch):
    staging = tmp_path / "staging.toml"
    fuzz = ["fuzz", "--adapter", WARNS, "--scheduler", "SequentialLR", "--max-examples", "150", "--seed", "1", "-q"]
    out, stopped_at = past_every_finding(fuzz, staging, capsys)
    assert stopped_at, "torch with a warning SequentialLR lacks was not found at all"
    assert len(set(stopped_at)) == len(stopped_at), stopped_at  # each finding, once recorded, explains its shapes
    assert " 0 by symptom" not in out and "by symptom" in out, out
    monkeypatch.setattr(known, "diagnosed", lambda items, reference, candidate: list(items))  # traits only
    assert main([*fuzz, "--known", str(staging)]) == 1


# --- a known difference explains a divergence only when it accounts for it (fuzz/attribution.py) -----------

PADDLE_FIRST_METRIC = ("reducelronplateau/nan-metric", "reducelronplateau/inf-metrics",
                       "reducelronplateau/max-mode-nan-inf")  # paddle: the first metric is the best
COOLDOWN = "reducelronplateau/cooldown-best-recorded"  # paddle: no comparison during cooldown
SEEDS = (0, 1, 2)  # several seeds, and assertions on what is found, not on when: no dependence on draw order


def listed_many(tmp_path: Path, case_ids) -> Path:
    path = tmp_path / "listed.toml"
    path.write_text("".join(f'[[differs]]\nid = "{case_id}"\nreason = "r"\n' for case_id in case_ids))
    return path


def paddle_without_cooldown(tmp_path: Path) -> Path:
    """paddle-float64's expectations but the cooldown entry: every other paddle difference, ReduceLROnPlateau's
    first-metric one included, listed as known."""
    from conformance import resources
    from conformance.expectations import load_expectations

    ids = [case_id for case_id in load_expectations(resources.expectations_file("paddle-float64")) if case_id != COOLDOWN]
    assert set(PADDLE_FIRST_METRIC) <= set(ids)
    return listed_many(tmp_path, ids)


def assert_cooldown_finding(finding: Verdict) -> None:
    """The planted deviation: a cooldown-driven lr difference whose first metric is finite (not the listed one)."""
    import math

    assert finding is not None
    assert finding.divergence.column == "lr", finding.reason
    assert finding.case.scheduler.kwargs.get("cooldown", 0) > 0, finding.case.raw
    assert math.isfinite(finding.case.metrics[0]), finding.case.metrics


def test_what_a_listed_plateau_difference_needs(torch_adapter, tmp_path):
    items = listed(tmp_path, "reducelronplateau/nan-metric", torch_adapter, deviants.PlateauLikePaddle())
    assert items[0].difference == "lr"
    assert items[0].needs == {"ReduceLROnPlateau.patience", "metrics:non-finite-first"}  # patience 10 > 10 steps
    cooldown = listed(tmp_path, COOLDOWN, torch_adapter, deviants.PlateauLikePaddle())[0]
    assert cooldown.needs == {"ReduceLROnPlateau.cooldown", "ReduceLROnPlateau.patience"}
    # the old matching's blind spot: the listed case has no trait the cooldown case lacks
    assert items[0].traits <= cooldown.traits
    # a listed difference this candidate does not show accounts for nothing
    agreeing = listed(tmp_path, "reducelronplateau/nan-metric", torch_adapter, deviants.PlateauCooldownSkips())[0]
    assert agreeing.difference is None and agreeing.needs == frozenset()


def test_a_listed_difference_accounts_for_a_divergence_that_needs_all_its_ingredients():
    listed_needs = frozenset({"ReduceLROnPlateau.patience", "metrics:non-finite-first"})
    mode = frozenset({"ReduceLROnPlateau.mode"})  # a max-mode case: what makes a -inf first metric show
    assert known.accounted(listed_needs, listed_needs | mode)
    cooldown = frozenset({"ReduceLROnPlateau.cooldown", "ReduceLROnPlateau.patience"})
    assert not known.accounted(listed_needs, cooldown)  # survives a finite first metric: another cause
    assert not known.accounted(listed_needs, frozenset())  # needs nothing optional: another cause
    assert known.accounted(frozenset(), cooldown)  # a difference of the listed case's shape


@pytest.mark.parametrize("fake", ["PlateauCooldownSkips", "PlateauLikePaddle"])
def test_a_paddle_like_cooldown_deviation_is_found_beside_paddles_known_differences(fake, capsys, tmp_path):
    """torch patched like paddle's ReduceOnPlateau in cooldown (PlateauLikePaddle: and with paddle's
    first-metric difference too), fuzzed with paddle-float64's expectations but the cooldown entry: found."""
    expectations_file = paddle_without_cooldown(tmp_path)
    for seed in SEEDS:
        # a campaign's rounds (docs/fuzzing.md): a finding that is not the planted deviation - a known difference
        # in a shape whose needs differ from its listed case's - is recorded and known in the next round
        staging = tmp_path / f"staging-{seed}.toml"
        fuzz = ["fuzz", "--adapter", f"{deviants.__name__}:{fake}", "--scheduler", "ReduceLROnPlateau",
                "--max-examples", "600", "--seed", str(seed), "--expectations", str(expectations_file), "-q",
                "--record", str(staging)]
        for _ in range(3):
            code = main([*fuzz, *(["--known", str(staging)] if staging.exists() else [])])
            out = capsys.readouterr().out
            assert code == 1 and "DIVERGENCE" in out, out  # never "no divergence"
            if "cooldown = " in out.split("[[case]]", 1)[1].split("torch (standalone", 1)[0]:
                break
        else:
            raise AssertionError(f"seed {seed}: the cooldown deviation was not found in 3 rounds:\n{out}")
        assert "lr: expected" in out, out


def test_an_existing_deviant_is_found_beside_another_difference_of_its_scheduler(torch_adapter, tmp_path):
    """PlateauCooldownCounts (an existing deviant) with paddle's first-metric difference as well, that
    difference listed: the old matching explained every plateau lr divergence by nan-metric's shape."""
    candidate = deviants.PlateauCooldownCountsFirstMetricIsBest()
    items = [item for case_id in PADDLE_FIRST_METRIC for item in listed(tmp_path, case_id, torch_adapter, candidate)]
    assert all(item.difference == "lr" and item.needs for item in items)  # the listed differences do show
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["ReduceLROnPlateau"])
    for seed in SEEDS:
        result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=600), seed=seed,
                               listed=tuple(items))
        assert_cooldown_finding(result.finding)


def test_the_listed_cooldown_case_explains_the_cooldown_deviation(torch_adapter, tmp_path):
    candidate = deviants.PlateauCooldownSkips()
    items = listed(tmp_path, COOLDOWN, torch_adapter, candidate)
    scope = strategies.scope_for(torch_adapter.info, candidate.info, top=["ReduceLROnPlateau"])
    explained = attribution_runs = 0
    for seed in SEEDS:
        result = search.search(torch_adapter, candidate, scope, search.Budget(max_examples=400), seed=seed,
                               listed=tuple(items))
        explained += result.tally.explained[COOLDOWN]
        attribution_runs += result.tally.attribution_runs
    # over the seeds, not per seed: a seed whose 400 draws never enter a cooldown has nothing to attribute
    assert explained > 0 and attribution_runs > 0
