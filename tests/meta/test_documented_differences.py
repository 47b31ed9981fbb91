"""Every documented library difference is pinned by a case (issue 18, item 2).

A library module's DIFFERENCES table (conformance/libraries/common.py: Difference) is the reviewed map from
what its documents say - the PORTING notes docs/porting/<library>.md is generated from, and the reasons of its
expectations files - to the suite's cases that show each difference. Checked here:

- each difference names cases of the suite that use its scheduler and that an expectations file of the
  library lists (so `run` grades it, and fuzz --expectations knows it);
- each PORTING note that says the library differs ("Difference:", "differs", "see the expectations") has a
  difference of that scheduler in the table: a described difference without a case fails;
- for the libraries in COMPLETE, every case their expectations files list belongs to a difference of the
  table: an expectations reason describes a difference, and the table names it.
"""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

import pytest

from conformance.cases import SCHEDULERS, load_cases
from conformance.expectations import load_expectations
from conformance.libraries.common import Difference, Port

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = sorted(path.stem for path in (ROOT / "conformance" / "libraries").glob("*.py")
                   if path.stem not in ("__init__", "common"))
# Libraries whose DIFFERENCES cover every listed case. The others still need their table filled in (the
# mapping of their expectations entries to differences has not been reviewed yet).
COMPLETE = ("deepspeed", "fastai", "mmengine", "paddle", "tf_keras")
# A note that says the library behaves otherwise than torch, not one that says it is the same "written differently".
STATES_A_DIFFERENCE = re.compile(r"\bDifferences?:|\bdiffers\b|see the expectations", re.IGNORECASE)


def listed_ids(module) -> dict[str, str]:
    """Every case id an expectations file of the library lists -> the file's name."""
    found = {}
    for path in sorted((ROOT / "expectations").glob(f"{module.LIBRARY}*.toml")):
        found.update({case_id: path.name for case_id in load_expectations(path)})
    return found


def table_problems(module, cases) -> list[str]:
    """What is wrong with the module's DIFFERENCES table (empty: nothing), one line each."""
    by_id = {case.id: case for case in cases}
    listed = listed_ids(module)
    problems = []
    for difference in getattr(module, "DIFFERENCES", ()):
        where = f"{module.__name__}.DIFFERENCES: {difference.scheduler}: {difference.what!r}"
        if difference.scheduler not in SCHEDULERS:
            problems.append(f"{where}: no such scheduler")
        if not difference.cases:
            problems.append(f"{where}: names no case that shows it")
        for case_id in difference.cases:
            if case_id not in by_id:
                problems.append(f"{where}: {case_id!r} is not a case of the suite")
            elif difference.scheduler not in by_id[case_id].schedulers:
                problems.append(f"{where}: {case_id!r} does not use {difference.scheduler}")
            if case_id not in listed:
                problems.append(f"{where}: {case_id!r} is in no expectations/{module.LIBRARY}*.toml")
    return problems


def note_problems(module) -> list[str]:
    """PORTING notes that describe a difference the DIFFERENCES table has none of for that scheduler."""
    pinned = {difference.scheduler for difference in getattr(module, "DIFFERENCES", ())}
    return [f"{module.__name__}.PORTING[{name!r}]: its note describes a difference "
            f"({STATES_A_DIFFERENCE.search(port.notes).group(0)!r}) that DIFFERENCES pins with no case"
            for name, port in getattr(module, "PORTING", {}).items()
            if STATES_A_DIFFERENCE.search(port.notes) and name not in pinned]


def unclaimed(module) -> list[str]:
    """Listed cases no difference of the table names."""
    claimed = {case_id for difference in getattr(module, "DIFFERENCES", ()) for case_id in difference.cases}
    return [f"{file}: {case_id!r} belongs to no difference of {module.__name__}.DIFFERENCES"
            for case_id, file in listed_ids(module).items() if case_id not in claimed]


@pytest.fixture(scope="module")
def cases():
    return load_cases()


@pytest.mark.parametrize("library", LIBRARIES)
def test_every_documented_difference_names_listed_cases_that_show_it(library, cases):
    module = importlib.import_module(f"conformance.libraries.{library}")
    assert table_problems(module, cases) == []
    assert note_problems(module) == []


@pytest.mark.parametrize("library", COMPLETE)
def test_every_listed_case_belongs_to_a_documented_difference(library):
    assert unclaimed(importlib.import_module(f"conformance.libraries.{library}")) == []


def test_the_paddle_cooldown_difference_has_its_case():
    paddle = importlib.import_module("conformance.libraries.paddle")
    cooldown = [d for d in paddle.DIFFERENCES if d.scheduler == "ReduceLROnPlateau" and "cooldown" in d.what]
    assert [d.cases for d in cooldown] == [("reducelronplateau/cooldown-best-recorded",)]


def test_a_described_difference_without_a_case_fails(cases):
    """The checks can fail: a note that describes a difference with no entry, an entry naming a case that is
    not listed, and a listed case no entry claims are each reported."""
    fake = types.SimpleNamespace(
        __name__="fake", LIBRARY="paddle",
        PORTING={"StepLR": Port("x", "Differences: it rounds the lr (see the expectations)"),
                 "PolynomialLR": Port("y", "the same values, written differently")},
        DIFFERENCES=(Difference("CosineAnnealingLR", "listed nowhere", ("cosineannealinglr/tmax-10",)),))
    assert note_problems(fake) == ["fake.PORTING['StepLR']: its note describes a difference ('Differences:') that "
                                   "DIFFERENCES pins with no case"]
    assert table_problems(fake, cases) == [
        "fake.DIFFERENCES: CosineAnnealingLR: 'listed nowhere': 'cosineannealinglr/tmax-10' is in no "
        "expectations/paddle*.toml"]
    assert "paddle-float64.toml: 'reducelronplateau/cooldown-best-recorded' belongs to no difference" in "\n".join(
        unclaimed(fake))
