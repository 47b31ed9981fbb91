"""Every library module's PORTING and INTERVENTIONS tables name every torch scheduler and every intervention of
spec 4.5, checked without the library installed (its own adapter test, which needs the library, checks the
tables against what the adapter declares). fvcore and pytorch-optimizer once lacked SWALR and INTERVENTIONS,
which only an environment with those libraries would have seen."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from conformance.libraries.common import check_porting, expressed, ported
from conformance.model import AdapterInfo, Tolerance

ROOT = Path(__file__).resolve().parents[2]
LIBRARIES = sorted(path.stem for path in (ROOT / "conformance" / "libraries").glob("*.py")
                   if path.stem not in ("__init__", "common"))


@pytest.mark.parametrize("library", LIBRARIES)
def test_tables_cover_every_scheduler_and_intervention(library):
    module = importlib.import_module(f"conformance.libraries.{library}")
    interventions = getattr(module, "INTERVENTIONS", None)
    assert interventions is not None, f"conformance.libraries.{library} has no INTERVENTIONS table"
    # what an adapter built from these tables alone would declare: the structural checks are what remain
    info = AdapterInfo(name=library, version="0", schedulers=ported(module.PORTING),
                       features=expressed(interventions), tolerance=Tolerance())
    assert check_porting(module.PORTING, info, interventions) == []


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_library_that_adds_schedulers_says_what_it_does_with_from_and_replace(library):
    """add-scheduler's `from` and `replace` (spec 4.5) are features of their own: a library whose table ports
    add-scheduler declares them or says why not, in that entry's notes (docs/porting/<lib>.md prints them), and
    a library that does not port add-scheduler cannot declare them (the source is read: the library may be absent)."""
    module = importlib.import_module(f"conformance.libraries.{library}")
    port = module.INTERVENTIONS["add-scheduler"]
    source = Path(module.__file__).read_text(encoding="utf-8")
    declared = [f'"{feature}"' in source for feature in ("add_scheduler_from", "replace_scheduler")]
    if port.call is None:
        assert not any(declared), f"{library} declares from/replace without porting add-scheduler"
    else:
        assert "add_scheduler_from" in port.notes and "replace_scheduler" in port.notes, library
        assert all(declared) or "not declared" in port.notes, library
