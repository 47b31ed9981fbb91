"""Shared by the third-party adapter tests: grade an adapter on synthetic cases whose goldens the torch
reference writes into a scratch store (so the tests do not move when golden/cases/ changes)."""

from __future__ import annotations

from helpers import make_case, torch_store

from conformance import golden, runner
from conformance.libraries.common import check_porting
from conformance.adapters.torch_reference import TorchAdapter
from conformance.model import Status
from conformance.regenerate import regenerate

PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7]


def case(case_id: str, scheduler: str, kwargs: dict, steps: int = 12, **more):
    return make_case(case_id, scheduler=scheduler, kwargs=kwargs, steps=steps, **more)


def plateau(case_id: str, kwargs: dict, metrics=PLATEAU_METRICS, **more):
    return make_case(case_id, scheduler="ReduceLROnPlateau", kwargs=kwargs, steps=len(metrics),
                     metrics=list(metrics), **more)


def grade(adapter, cases, tmp_path) -> dict[str, tuple[Status, str]]:
    """{case id: (status, detail)} for `adapter` on `cases` against goldens torch writes into tmp_path."""
    assert regenerate(TorchAdapter(), cases, torch_store(tmp_path / "traces"), out=lambda s: None) == 0
    store = golden.load(tmp_path / "traces")
    return {o.case_id: (o.status, o.detail) for o in runner.run_cases(adapter, cases, store)}


def assert_porting_consistent(module, adapter) -> None:
    assert check_porting(module.PORTING, adapter.info, module.INTERVENTIONS) == []
    assert isinstance(module.LIBRARY, str) and module.LIBRARY


def assert_pass(results, case_ids) -> None:
    """Every one of `case_ids` passed (a mapping rule that reproduces torch)."""
    for case_id in case_ids:
        assert results[case_id][0] is Status.PASS, (case_id, results[case_id])


def assert_unsupported(results, expected) -> None:
    """Every (case id, words) of `expected` is unsupported with those words in its reason."""
    for case_id, why in expected:
        assert results[case_id][0] is Status.UNSUPPORTED, (case_id, results[case_id])
        assert why in results[case_id][1], (case_id, results[case_id])
