"""tools/group_staging.py: a staging file's findings grouped offline (conformance/fuzz/groups.py) and scored
against the cause each block's comment names - the measurement of docs/fuzzing.md "Findings grouped by likely
cause"."""

from __future__ import annotations

import pytest
from fakes import deviants
from helpers import load_tool

from conformance.cases import load_cases
from conformance.fuzz import emit

pytestmark = pytest.mark.release_independent  # diagnoses as fuzz does, on the reference torch

tool = load_tool("group_staging")


def staging(tmp_path, blocks) -> str:
    """A staging file of suite cases, each block under a comment naming a cause (None: no comment)."""
    by_id = {case.id: case for case in load_cases()}
    path = tmp_path / "staging.toml"
    texts = [emit.case_block(emit.finding_case(by_id[case_id], "test"),
                             comments=[f"reproduce: fuzz {flag}", *([f"covered by {cause}"] if cause else [])])
             for case_id, cause, flag in blocks]
    path.write_text("# a header\n\n" + "\n".join(texts))
    return str(path)


def test_two_named_causes_of_one_scheduler_are_scored_as_two_groups(tmp_path, capsys):
    nan, cooldown = "reducelronplateau/nan-metric", "reducelronplateau/cooldown-best-recorded"
    path = staging(tmp_path, [(nan, "cause-a", "--keep-going"), (cooldown, "cause-b", "--keep-going"),
                              ("steplr/gamma-half-step3", None, "")])
    assert tool.main([path, "--adapter", f"{deviants.__file__}:PlateauLikePaddle", "--only-keep-going"]) == 0
    out = capsys.readouterr().out
    assert "2 findings, 2 named causes, 2 groups; 0 group(s) with more than one named cause; 0 cause(s) split" in out


def test_the_same_named_cause_in_one_group_is_not_a_merge_and_without_a_filter_every_block_counts(tmp_path, capsys):
    nan = "reducelronplateau/nan-metric"
    path = staging(tmp_path, [(nan, "cause-a", ""), (nan, "cause-b", "")])
    assert tool.main([path, "--adapter", f"{deviants.__file__}:PlateauLikePaddle"]) == 0
    assert "2 findings, 2 named causes, 1 groups; 1 group(s) with more than one named cause" in capsys.readouterr().out


def test_a_block_that_is_not_a_case_is_one_line_naming_its_line(tmp_path, capsys):
    path = tmp_path / "staging.toml"
    path.write_text('# covered by x\n[[case]]\nid = "steplr/x"\nscheduler = "StepLR"\nsteps = "many"\n')
    assert tool.main([str(path), "--adapter", "torch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"group_staging: {path}:2: this [[case]] block is not a case"), err
