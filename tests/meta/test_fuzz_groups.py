"""`fuzz --keep-going` groups its findings by likely cause (conformance/fuzz/groups.py): one cause met with
several schedulers is one group, two causes of one scheduler are two, and the run's summary and its --record
say each finding's group. Grouping is for the report only: the findings are the same with it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import test_fuzz
from fakes import deviants, symptoms
from test_fuzz import fuzz_cache, hypothesis_outside_the_checkout, torch_adapter  # noqa: F401 - its fixtures

from conformance import golden
from conformance.cases import load_cases
from conformance.cli import main
from conformance.fuzz import groups, known

pytestmark = pytest.mark.release_independent  # fuzz's machinery on the reference torch, as test_fuzz_known.py


def diagnosed(tmp_path, case_ids, candidate, reference) -> dict[str, known.Known]:
    """The suite's cases `case_ids` diagnosed against `candidate` as --keep-going diagnoses a finding."""
    path = tmp_path / "listed.toml"
    path.write_text("".join(f'[[differs]]\nid = "{case_id}"\nreason = "r"\n' for case_id in case_ids))
    store = golden.load()
    loaded = known.load([path], load_cases(), lambda case: store.expected(case, store.reference)[0])
    return {item.id: item for item in known.diagnosed(loaded, reference, candidate)}


def test_one_cause_met_with_other_stages_is_one_group_and_the_same_symptom_elsewhere_another(torch_adapter, tmp_path):
    """SequentialLR warning at its milestones shows whatever its stages are: one group. The same warning from a
    plain StepLR (SequentialAndStepLRWarn) is another cause, with the same symptom: another group."""
    ids = ["sequentiallr/constant-then-exponential", "sequentiallr/warmup-then-cosine", "steplr/gamma-half-step3"]
    found = diagnosed(tmp_path, ids, symptoms.SequentialAndStepLRWarn(), torch_adapter)
    first, second, step = (groups.key(found[case_id]) for case_id in ids)
    assert all(found[case_id].difference == "event" for case_id in ids), found  # all three diverge, by a warning
    assert first == second and first.label == second.label, (first, second)
    assert found[ids[0]].case.schedulers != found[ids[1]].case.schedulers  # other stages: other traits
    assert step.symptom == first.symptom and step != first, (step, first)


def test_two_causes_of_one_scheduler_are_two_groups(torch_adapter, tmp_path):
    """paddle's ReduceLROnPlateau (PlateauLikePaddle) differs on a nan first metric and, separately, in cooldown:
    both lr differences of a plain ReduceLROnPlateau case, told apart by what each needs."""
    nan, cooldown = "reducelronplateau/nan-metric", "reducelronplateau/cooldown-best-recorded"
    found = diagnosed(tmp_path, [nan, cooldown], deviants.PlateauLikePaddle(), torch_adapter)
    a, b = groups.key(found[nan]), groups.key(found[cooldown])
    assert (a.difference, a.symptom, a.schedulers) == ("lr", None, frozenset())
    assert (b.difference, b.symptom, b.schedulers) == ("lr", None, frozenset())
    assert a.shape == b.shape  # the same shape too: only the needs separate them
    assert a != b and a.label != b.label and a.needs != b.needs, (a, b)


def test_a_bare_value_difference_keeps_its_scheduler_in_the_key(torch_adapter, tmp_path):
    """Without a symptom, feature, needed argument or composite, the schedulers are all that names the cause:
    StepLR counting from 1 and ConstantLR ending late are two groups, not one "lr differs"."""
    step, constant = "steplr/gamma-half-step3", "constantlr/factor-half-total-3"
    found = diagnosed(tmp_path, [step, constant], test_fuzz.StepAndConstantLate(), torch_adapter)
    a, b = groups.key(found[step]), groups.key(found[constant])
    assert found[step].difference == found[constant].difference == "lr"
    assert a.schedulers == {"StepLR"} and b.schedulers == {"ConstantLR"} and a != b, (a, b)


def test_keep_going_prints_and_records_each_findings_group(capsys, tmp_path):
    """The run's summary has a line per group (label, size, ids, key), their sizes add up to the findings, and
    each recorded block's comment names its group; the two schedulers' missing get_lr() warning (one cause of
    the patched classes) is one group, the two planted lr deviations are two."""
    staging = tmp_path / "staging.toml"
    fuzz = ["fuzz", "--adapter", f"{test_fuzz.__file__}:StepAndConstantLate", "--scheduler", "StepLR",
            "--scheduler", "ConstantLR", "--max-examples", "1000", "--seed", "0", "-q", "--keep-going"]
    assert main([*fuzz, "--record", str(staging)]) == 1
    out = capsys.readouterr().out
    summary = re.findall(r"^    (g-[0-9a-f]{6}): (\d+) \(([^)]*)\): (.+)$", out, re.MULTILINE)
    findings = re.search(r"(\d+) divergence\(s\)", out).group(1)
    assert summary and sum(int(size) for _, size, _, _ in summary) == int(findings), out
    assert f"  {findings} finding(s) in {len(summary)} group(s) by likely cause" in out, out
    group_of = {finding: label for label, _, ids, _ in summary for finding in ids.split(", ")}
    text = staging.read_text()
    recorded = re.findall(r"^# group (g-[0-9a-f]{6}) .*?\nid = \"([^\"]+)\"", text, re.MULTILINE | re.DOTALL)
    assert len(recorded) == int(findings) and all(group_of[case_id] == label for label, case_id in recorded), text
    warning = {label for label, _, ids, words in summary if "To get the last learning rate" in words
               and {i.split("/")[0] for i in ids.split(", ")} == {"steplr", "constantlr"}}
    assert len(warning) == 1, summary
    bare = {words for _, _, _, words in summary if words.startswith("lr differs first; no feature")}
    assert bare == {"lr differs first; no feature or intervention; needs no argument (the shape's); only in StepLR",
                    "lr differs first; no feature or intervention; needs no argument (the shape's); only in ConstantLR"}


def test_grouping_decides_nothing(capsys, monkeypatch):
    """Every finding in one group (a key that says nothing) leaves the run's findings as they were: nothing but
    the report reads a group."""
    fuzz = ["fuzz", "--adapter", f"{test_fuzz.__file__}:StepAndConstantLate", "--scheduler", "StepLR",
            "--scheduler", "ConstantLR", "--max-examples", "300", "--seed", "0", "-q", "--keep-going"]
    assert main(fuzz) == 1
    out = capsys.readouterr().out
    monkeypatch.setattr(groups, "key", lambda diagnosed: groups.GroupKey("lr", None, frozenset(), frozenset()))
    assert main(fuzz) == 1
    again = capsys.readouterr().out
    found = re.findall(r"^DIVERGENCE  (\S+)", out, re.MULTILINE)
    assert len(found) > 1 and re.findall(r"^DIVERGENCE  (\S+)", again, re.MULTILINE) == found, again
    assert f"  {len(found)} finding(s) in 1 group(s)" in again  # the patched key was the one used


def test_what_an_intervention_does_is_part_of_the_shape():
    """Loading only the optimizer's state dict and only the scheduler's are two causes of paddle's, both a
    `resume` intervention (one feature, partial_resume): the state dicts it loads tell them apart."""
    by_id = {case.id: case for case in load_cases()}
    optimizer, scheduler = (by_id[f"steplr/resume-only-{which}"] for which in ("optimizer", "scheduler"))
    assert optimizer.features() == scheduler.features()
    a, b = (groups.key(replace(known.Known.of(case, None), difference="lr", needs=frozenset()))
            for case in (optimizer, scheduler))
    assert a.shape - b.shape == {"resume:load=optimizer"} and b.shape - a.shape == {"resume:load=scheduler"}, (a, b)


def test_a_switch_and_a_changed_argument_say_what_they_do_in_the_shape():
    """An add-scheduler that replaces the case's scheduler is another loop than one stepped beside it, and a
    change of the group's lr tensor another than a change of a scheduler argument: the shape tells them apart."""
    by_id = {case.id: case for case in load_cases()}

    def shape(case_id):
        return groups.key(replace(known.Known.of(by_id[case_id], None), difference="lr", needs=frozenset())).shape

    assert "add-scheduler:replace=True" in shape("steplr/replaced-from-iteration-0")
    assert "add-scheduler:replace=False" in shape("steplr/second-scheduler-added-mid-run")
    assert "change-argument:argument=lr" in shape("steplr/tensor-lr-changed-in-place")
    assert "change-argument:argument=max_lr" in shape("onecyclelr/tensor-max-lr-changed-mid-run")
