"""fuzz draws what the candidate can run (conformance/fuzz/refusals.py): against a port with coarse declarations
that refuses most configurations (fakes/refuses.py: Picky), the cases drawn from the whole language are nearly
all unsupported; learning what it refuses and steering the draws around it makes most of them compared, and
the deviation planted where it does run a case is still found."""

from __future__ import annotations

from fakes import refuses
from test_fuzz import fuzz_cache, hypothesis_outside_the_checkout, torch_adapter  # noqa: F401 - its fixtures

from conformance.adapters.torch_reference import TorchAdapter
from conformance.cli import main
from conformance.fuzz import refusals, search, strategies
from conformance.fuzz.differential import Kind

# Picky's planted deviation is StepLR's: without StepLR at the top a search finds nothing, and counts
NO_DEVIATION = ["ReduceLROnPlateau", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts", "LinearLR",
                "ConstantLR", "ExponentialLR"]
BUDGET = search.Budget(max_examples=200)


def _search(reference, candidate, top, steer: bool, budget=BUDGET):
    scope = strategies.scope_for(reference.info, candidate.info, top=top)
    return search.search(reference, candidate, scope, budget, seed=0, steer=steer)


def test_steering_makes_most_drawn_examples_compared(torch_adapter):
    candidate = refuses.Picky()
    blind = _search(torch_adapter, candidate, NO_DEVIATION, steer=False)
    steered = _search(torch_adapter, candidate, NO_DEVIATION, steer=True)
    assert blind.finding is None and steered.finding is None
    assert blind.tally.compared_share < 0.2, blind.tally.kinds  # the whole language: nearly all refused
    assert steered.tally.compared_share >= 0.5, (steered.tally.kinds, steered.tally.skipped.most_common(5))
    assert steered.tally.examples == blind.tally.examples == BUDGET.max_examples
    # what it learned is what Picky refuses, each named: its shape and its arguments' values alike
    learned = {refusals.name(atom) for atom in steered.tally.refused}
    assert {"several param groups", "optimizer Adam"} <= learned, learned
    assert any(name.startswith(("CyclicLR(mode=", "ConstantLR(factor=", "OneCycleLR(")) for name in learned), learned
    assert not any(name.startswith(("ExponentialLR(", "CyclicLR(base_lr")) for name in learned), learned
    # learning costs runs, far fewer than the examples it turned into compared ones
    assert 0 < steered.tally.refusal_runs < steered.tally.compared - blind.tally.compared


def test_the_planted_deviation_is_still_found_when_steered(torch_adapter):
    result = _search(torch_adapter, refuses.Picky(), ["StepLR", *NO_DEVIATION], steer=True,
                     budget=search.Budget(max_examples=600))
    assert result.finding is not None, result.tally.kinds
    case = result.finding.case
    assert "StepLR" in case.schedulers and refuses.refusal(case) is None  # a case Picky runs, shrunk


def test_a_candidate_that_refuses_nothing_is_never_steered(torch_adapter):
    result = search.search(torch_adapter, TorchAdapter(), strategies.scope_for(torch_adapter.info,
                           torch_adapter.info), search.Budget(max_examples=100), seed=0)
    assert result.tally.refusal_runs == 0 and not result.tally.refused
    assert result.tally.kinds[Kind.UNSUPPORTED] == 0


def test_steering_reverts_refused_atoms_and_leaves_the_rest():
    data = {"id": "fuzz/draft", "why": "w", "scheduler": "StepLR", "kwargs": {"step_size": 2, "gamma": 0.5},
            "optimizer": {"name": "Adam"}, "protocol": "standard", "steps": 4,
            "groups": [{"lr": 0.1, "betas": [0.9, 0.999]}, {"lr": 0.05}]}
    learned = refusals.Refusals()
    assert learned.steer(data) is data  # nothing learned: the drawn case itself
    learned.refused |= {("optimizer", "Adam"), ("kwarg", "StepLR", "gamma", "0.5")}
    steered = learned.steer(data)
    assert steered["optimizer"] == {"name": "SGD"} and "betas" not in steered["groups"][0]
    assert steered["kwargs"] == {"step_size": 2} and len(steered["groups"]) == 2  # groups were not refused
    assert data["kwargs"]["gamma"] == 0.5  # the drawn data is not changed in place


def test_fuzz_prints_the_compared_share(capsys):
    code = main(["fuzz", "--adapter", f"{refuses.__file__}:Picky", "--max-examples", "120", "--seed", "0", "-q",
                 *[arg for name in NO_DEVIATION for arg in ("--scheduler", name)]])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "  compared: " in out and " of 120 drawn examples (" in out
    assert "steered away from what the candidate refuses" in out


class _Recording(TorchAdapter):
    """torch, keeping the data of every case it traces, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def trace(self, case):
        self.seen.append(repr(case.raw))
        return super().trace(case)


def _drawn(reference, past) -> list[str]:
    candidate = _Recording()
    scope = strategies.scope_for(reference.info, candidate.info, top=["StepLR"])
    search.search(reference, candidate, scope, search.Budget(max_examples=30), seed=0, past=past)
    return candidate.seen


def test_a_round_past_findings_searches_elsewhere_and_reproducibly(torch_adapter):
    first = _drawn(torch_adapter, ())
    past = _drawn(torch_adapter, ("steplr/fuzz-1a2b3c4d",))
    assert past == _drawn(torch_adapter, ("steplr/fuzz-1a2b3c4d",))  # the same findings: the same cases
    assert len(set(past[1:]) & set(first[1:])) < len(past) // 2  # (the first is the warm-up's simplest case)
