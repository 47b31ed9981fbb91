"""The reproduction snippet is standalone torch code that really reproduces the case: executed, it prints
the golden's values (every committed case), and torch's own values for composite, vocabulary, tensor-lr,
plateau, step-epoch and momentum cases built here."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
import warnings

import pytest
from helpers import make_case

from conformance import cases as cases_mod, golden
from conformance.adapters.torch_reference import TorchAdapter
from conformance.snippet import torch_snippet

NUMBER_LISTS = re.compile(r"\[([^\]]*)\]")


def run_snippet(case) -> dict[int, list[list[float]]]:
    """step -> [lrs] (+ [momenta]) as printed by the executed snippet, up to the error torch raises, if any."""
    source = torch_snippet(case)
    assert "conformance" not in source.replace("# lr-conformance", "")  # standalone: torch only
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # a real module, as when the snippet runs as a script: torch < 2.2 pickles a CyclicLR's callable
            # scale_fn object into the checkpoint, which needs its class to be importable
            module = types.ModuleType("__snippet__")
            sys.modules[module.__name__] = module
            exec(compile(source, f"<snippet {case.id}>", "exec"), module.__dict__)
        except Exception:  # noqa: BLE001 - the case may pin an error; its rows up to there still count
            pass
        finally:
            sys.modules.pop("__snippet__", None)
    rows = {}
    for line in out.getvalue().splitlines():
        if line.startswith(" "):  # what a `call` intervention returned: not an observation
            continue
        step, _, rest = line.partition(" ")
        if not step.isdigit():  # torch's own print of verbose=True before 2.2 ("Epoch 00000: ..."), not a row
            continue
        rows[int(step)] = [[float(x) for x in group.split(",")] for group in NUMBER_LISTS.findall(rest)]
    return rows


def from_trace(case, trace) -> dict[int, list[list[float]]]:
    rows: dict[int, list[list[float]]] = {}
    for o in trace.observations:
        row = rows.setdefault(o.step, [[], []] if case.observes_momentum else [[]])
        row[0].append(o.lr)
        if case.observes_momentum:
            row[1].append(o.momentum)
    return rows


def same(a, b) -> bool:
    return repr(a) == repr(b)  # bit-exact, and nan equals nan


def test_snippets_of_committed_cases_print_their_goldens():
    store = golden.load()
    release = TorchAdapter().info.mirrors  # the golden of the installed release: the snippet runs on it
    checked, wrong = 0, []
    for case in cases_mod.load_cases():
        if not cases_mod.applies_to(case, release) or case.id not in store.entries:
            continue
        expected, _ = store.expected(case, release)
        if not same(run_snippet(case), from_trace(case, expected)):
            wrong.append(case.id)
        checked += 1
    assert checked and not wrong, f"snippets that do not reproduce their golden: {wrong}"


HALF = {"step_size": 2, "gamma": 0.5}
BUILT_HERE = [
    make_case("lambdalr/snippet", scheduler="LambdaLR", tensor_lr=True,
              kwargs={"lr_lambda": [{"fn": "constant_then_linear_decay", "n_epochs": 2, "n_epochs_decay": 3},
                                    {"fn": "inverse_sqrt", "warmup": 2}]}),
    make_case("sequentiallr/snippet", scheduler="SequentialLR", kwargs={"milestones": [2]}, steps=6,
              children=[{"scheduler": "ChainedScheduler", "children": [
                  {"scheduler": "ConstantLR", "kwargs": {"factor": 0.5, "total_iters": 1}},
                  {"scheduler": "ExponentialLR", "kwargs": {"gamma": 0.9}}]},
                  {"scheduler": "StepLR", "kwargs": HALF}]),
    make_case("cycliclr/snippet", scheduler="CyclicLR", optimizer={"name": "Adam", "betas": [0.95, 0.999]},
              kwargs={"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2,
                      "scale_fn": {"fn": "halving"}, "scale_mode": "cycle"}, steps=9),
    make_case("reducelronplateau/snippet", scheduler="ReduceLROnPlateau", kwargs={"patience": 0, "factor": 0.5},
              metrics=[1.0, 1.0, float("nan"), 0.5, float("inf"), 0.4]),
    make_case("cosineannealingwarmrestarts/snippet", scheduler="CosineAnnealingWarmRestarts", kwargs={"T_0": 3},
              protocol="step-epoch", epochs=[0.0, 0.5, 1.25, 3.0, 4.5, 7.0]),
    make_case("steplr/snippet-resume", kwargs=HALF, protocol="resume-state-dict", resume_at=3,
              optimizer={"name": "SGD", "momentum": 0.9}),
    make_case("steplr/snippet-first", kwargs=HALF, protocol="scheduler-first"),
    # change-argument (spec 4.5): the user's tensors, the fresh ones after the resume
    make_case("steplr/snippet-changed", kwargs=HALF, tensor_lr=True, protocol="resume-state-dict", resume_at=3,
              interventions=[{"at": [1, 4], "do": "change-argument", "argument": "lr", "group": 0, "multiply": 0.1}]),
    make_case("cycliclr/snippet-changed", scheduler="CyclicLR", groups=[{"lr": 0.1, "tensor_lr": True}, {"lr": 0.2}],
              kwargs={"base_lr": 0.01, "max_lr": [{"tensor": 0.1}, 0.2], "step_size_up": 2}, steps=5,
              interventions=[{"at": 1, "do": "change-argument", "argument": "lr", "group": 0, "value": 0.5},
                             {"at": 2, "do": "change-argument", "argument": "max_lr", "group": 0, "multiply": 3.0}]),
]


@pytest.mark.parametrize("case", BUILT_HERE, ids=[c.id for c in BUILT_HERE])
def test_snippet_prints_what_the_torch_adapter_observes(case):
    rows = run_snippet(case)
    trace = TorchAdapter().trace(case)
    assert len(rows) == (case.steps if trace.error is None else len({o.step for o in trace.observations}))
    assert same(rows, from_trace(case, trace))


def test_a_read_scheduler_prints_what_the_golden_recorded():
    """The snippet's `scheduler.<attribute> = ...` lines, in order, are the golden's value events of the reads
    (read-scheduler, spec 4.5), a set-scheduler written as the assignment a user types."""
    store = golden.load()
    release = TorchAdapter().info.mirrors
    for case_id in ("cosineannealingwarmrestarts/last-epoch-read-after-a-restart",
                    "reducelronplateau/add-param-group-with-min-lrs-appended"):
        case = next(c for c in cases_mod.load_cases() if c.id == case_id)
        source = torch_snippet(case)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(source, f"<snippet {case.id}>", "exec"), {"__name__": "__snippet__"})
        printed = []
        for line in out.getvalue().splitlines():
            if line.startswith("    scheduler."):
                name, _, value = line.strip()[len("scheduler."):].partition(" = ")
                numbers = [float(x) for x in NUMBER_LISTS.findall(value)[0].split(",")] if "[" in value else [float(value)]
                printed += [(name, number) for number in numbers]
        expected, _ = store.expected(case, release)
        assert printed == [(e.type, float(e.message)) for e in expected.events if e.kind == "value"]
    set_lines = torch_snippet(next(c for c in cases_mod.load_cases() if c.id == "steplr/last-epoch-set-by-hand"))
    assert "        scheduler.last_epoch = 1" in set_lines.splitlines()
