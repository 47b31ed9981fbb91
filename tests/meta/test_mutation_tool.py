"""tools/mutation_test.py: the mutant generator, the reach/infection probe and the import hook.

Fast: generation and the probe run in-process on a small sample module; one subprocess runs one case under a
sentinel mutant of the real lr_scheduler.py, proving the hook makes `import torch` load the mutant file.
"""

from __future__ import annotations

import collections
import textwrap
from pathlib import Path

import pytest
from helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]


def _load_tool():
    return load_tool("mutation_test", "mutation_test")


mt = _load_tool()

SAMPLE = textwrap.dedent('''\
    """A module docstring."""
    from __future__ import annotations

    import warnings


    def _helper(values: list[int]) -> int:
        return max(values) - 1


    def _unused(x):
        return x + 1


    class LRScheduler:
        """Base."""

        def __init__(self, last_epoch: int = -1) -> None:
            self.last_epoch = last_epoch
            self.base = 1.0

        def state_dict(self):
            return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "cache")}

        def load_state_dict(self, state_dict):
            cache = state_dict.pop("cache", None)
            self.__dict__.update(state_dict)


    class Sched(LRScheduler):
        """Docstring with < and + that must not be touched."""

        def step(self):
            self.last_epoch += 1
            if self.last_epoch < 3 and self.base > 0:
                return self.base * 2
            elif self.last_epoch == 10:
                warnings.warn("ten " + "steps", UserWarning, stacklevel=2)
            if self.last_epoch >= 100:
                raise ValueError("too many: " + str(self.last_epoch + 1))
            flag = True
            return _helper([self.last_epoch // 2, min(self.last_epoch, 5)])


    class NotAScheduler:
        def f(self, x):
            return x + 1
''')


def _line_of(fragment: str) -> int:
    (line,) = [i for i, text in enumerate(SAMPLE.splitlines(), 1) if fragment in text]
    return line


def _by(mutants, **want):
    return [m for m in mutants if all(getattr(m, k) == v for k, v in want.items())]


def test_generator_yields_every_operator_on_the_sample():
    mutants = mt.generate(SAMPLE)
    ops = collections.Counter(m.operator for m in mutants)
    assert set(ops) == {"cmp", "arith", "const", "bool", "logic", "minmax", "warn", "state", "if-body"}
    descriptions = {(m.scope, m.method, m.operator, m.description) for m in mutants}
    for expected in [
        ("Sched", "step", "cmp", "`<` -> `<=`"),
        ("Sched", "step", "cmp", "`>` -> `>=`"),
        ("Sched", "step", "cmp", "`==` -> `!=`"),
        ("Sched", "step", "cmp", "`>=` -> `>`"),
        ("Sched", "step", "arith", "`*` -> `/`"),
        ("Sched", "step", "arith", "`//` -> `%`"),
        ("Sched", "step", "arith", "`+=` -> `-=`"),
        ("Sched", "step", "const", "`3` -> `4`"),
        ("Sched", "step", "const", "`3` -> `2`"),
        ("Sched", "step", "bool", "`True` -> `False`"),
        ("Sched", "step", "logic", "`and` -> `or`"),
        ("Sched", "step", "minmax", "`min` -> `max`"),
        ("Sched", "step", "warn", "remove `warnings.warn(...)`"),
        ("Sched", "step", "if-body", "`if` body -> `pass`"),
        ("_helper", None, "minmax", "`max` -> `min`"),
        ("_helper", None, "arith", "`-` -> `+`"),
        ("LRScheduler", "__init__", "const", "`1` -> `2`"),  # the default last_epoch=-1
        ("LRScheduler", "state_dict", "state", "no longer exclude key 'cache'"),
        ("LRScheduler", "load_state_dict", "state", "`.pop('cache')` -> `.get(...)`: the key stays"),
        ("LRScheduler", "load_state_dict", "state", "delete the call `self.__dict__.update(...)`"),
        ("Sched", "state_dict", "state", "state_dict() omits 'last_epoch'"),
    ]:
        assert expected in descriptions, expected
    # out of scope: classes not deriving from LRScheduler, helpers nobody uses
    assert {m.scope for m in mutants} == {"_helper", "LRScheduler", "Sched"}
    # never touched: the raise statement (its message and the `+ 1` in it), the warning's message and
    # stacklevel, string concatenation, annotations, docstrings
    raise_line, warn_line = _line_of("raise ValueError"), _line_of("warnings.warn(")
    assert [m.operator for m in mutants if m.line == raise_line] == ["if-body"]  # only deleting the guarded raise
    assert sorted(m.operator for m in mutants if m.line == warn_line) == ["if-body", "warn"]  # elif body = the call
    # the `elif` is mutated as its own `if`, not as an `else` body of the first
    assert not _by(mutants, description="`else` body -> `pass`")
    # ids are stable, in source order
    assert [m.id for m in mutants] == [f"m{i:04d}" for i in range(1, len(mutants) + 1)]
    assert mt.generate(SAMPLE) == mutants


def test_displayed_lines_are_exactly_the_mutation_that_runs():
    mutants = mt.generate(SAMPLE)
    assert mt.check_display(SAMPLE, mutants) == []
    (m,) = _by(mutants, scope="Sched", description="`<` -> `<=`")
    assert m.original.strip() == "if self.last_epoch < 3 and self.base > 0:"
    assert m.mutated.strip() == "if self.last_epoch <= 3 and self.base > 0:"
    source = mt.Module(SAMPLE).mutant_source(m)
    assert "self.last_epoch <= 3" in source and "self.last_epoch < 3" not in source


def test_probe_records_reach_and_infection():
    mutants = mt.generate(SAMPLE)
    namespace = {"__name__": "sample_under_probe"}
    exec(compile(mt.instrumented_source(SAMPLE, mutants), "sample", "exec"), namespace)
    s = namespace["Sched"]()
    for _ in range(4):  # last_epoch 0..3: `< 3` vs `<= 3` differ at 3; `== 10` is never reached as True
        s.step()
    s.state_dict()
    reached, infected = namespace["_lrc_reached"], namespace["_lrc_infected"]
    label = {m.id: mt._probe_label(m, {"reached": reached, "infected": infected}) for m in mutants}

    def of(**want):
        (m,) = _by(mutants, **want)
        return label[m.id]

    assert of(scope="Sched", description="`<` -> `<=`") == "infected"
    assert of(scope="Sched", description="`>` -> `>=`") == "reached"  # base is never 0
    assert of(scope="Sched", description="`>=` -> `>`") == "reached"  # last_epoch never reaches 100
    assert of(scope="Sched", description="remove `warnings.warn(...)`") == "not reached"
    assert of(scope="Sched", description="state_dict() omits 'last_epoch'") == "saved"
    assert of(scope="LRScheduler", method="__init__", description="`1` -> `2`") == "n/a"
    # the instrumented module behaves like the original
    plain = {"__name__": "sample_plain"}
    exec(compile(SAMPLE, "sample", "exec"), plain)
    p, q = plain["Sched"](), namespace["Sched"]()
    assert [p.step() for _ in range(6)] == [q.step() for _ in range(6)]


torch = pytest.importorskip("torch")


def test_hook_loads_a_sentinel_mutant_and_the_suite_kills_it(tmp_path):
    """One subprocess: `import torch` under the hook must load the sentinel mutant, whose schedulers all raise."""
    module = mt.Module(mt.target_file().read_text(encoding="utf-8"))
    result = mt.run_suite(tmp_path / "sentinel", module.sentinel_source(), timeout=60,
                          suite_args=["-k", "steplr/gamma-half-step3"], repo=ROOT)
    assert result.status == "killed" and result.exit_code == 1, result
    assert result.killed_by == ["steplr/gamma-half-step3"]
    assert mt.SENTINEL_MESSAGE in result.details["steplr/gamma-half-step3"]
    assert (tmp_path / "sentinel" / "sitecustomize.py").exists()


# SWALR's methods are the reference torch 2.13.0's (1.13.1's has _set_anneal_func and its own load_state_dict):
# the tool's campaigns mutate the reference release, and tox runs this in its env only
@pytest.mark.release_independent
def test_swa_utils_target_mutates_swalr_only_with_its_own_ids():
    """SWALR lives in torch.optim.swa_utils: --module swa_utils mutates its class alone (not AveragedModel or
    update_bn), with ids that cannot be confused with lr_scheduler.py's."""
    spec = mt.TARGETS["swa_utils"]
    mutants = mt.generate(mt.target_file(spec.module).read_text(encoding="utf-8"), spec.id_prefix)
    assert {m.scope for m in mutants} == {"SWALR"}
    assert [m.id for m in mutants] == [f"s{i:04d}" for i in range(1, len(mutants) + 1)]
    assert {"get_lr", "_get_initial_lr", "_set_anneal_func", "load_state_dict"} <= {m.method for m in mutants}


def test_hook_loads_a_swa_utils_sentinel_and_a_swalr_case_notices(tmp_path):
    spec = mt.TARGETS["swa_utils"]
    module = mt.Module(mt.target_file(spec.module).read_text(encoding="utf-8"))
    result = mt.run_suite(tmp_path / "sentinel", module.sentinel_source(), timeout=60,
                          suite_args=["-k", "swalr/defaults"], repo=ROOT, target_module=spec.module)
    assert result.status == "killed" and result.killed_by == ["swalr/defaults"], result
    assert mt.SENTINEL_MESSAGE in result.details["swalr/defaults"]


def _processes_naming(text: str) -> list[int]:
    """The pids of live processes whose command line contains `text` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
            except (OSError, StopIteration):
                continue
            if text in cmdline and "Z" not in state.split()[1]:
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc to find the suite runs")
@pytest.mark.parametrize(("signame", "module", "mutant", "phase"), [
    ("SIGINT", "lr_scheduler", "m0131", "baseline"),  # Ctrl-C while the main thread waits for a suite run
    ("SIGTERM", "swa_utils", "s0055", "s0055"),  # kill while a worker thread waits for a mutant's run
])
def test_a_stopped_campaign_leaves_no_temporary_directory_and_no_suite_run(tmp_path, signame, module, mutant, phase):
    """A campaign stopped by Ctrl-C or SIGTERM kills the suite run in progress (it runs in its own session,
    out of reach of the terminal's signal) and removes its lrc-mutants-* directory; exit 128 + the signal."""
    import signal
    import subprocess
    import sys
    import time

    signum = getattr(signal, signame)
    workdir = tmp_path / "work"
    workdir.mkdir()
    cmd = [sys.executable, str(ROOT / "tools" / "mutation_test.py"), "--module", module, "--mutant", mutant,
           "--no-probe", "-j", "1", "-q", "--workdir", str(workdir)]
    # SIGINT reaches Python as KeyboardInterrupt only if it was not ignored when the interpreter started
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    marker = f"{workdir}/"
    try:
        deadline = time.monotonic() + 120
        while not _processes_naming(f"/{phase}/result.json") or not any(workdir.glob("lrc-mutants-*")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the campaign never started that suite run"
            time.sleep(0.05)
        running = [pid for pid in _processes_naming(marker) if pid != proc.pid]
        assert running, "no suite run in progress under the work directory"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert list(workdir.iterdir()) == [], err[-2000:]
    assert _processes_naming(marker) == [], "a suite run outlived its campaign"
    assert proc.returncode == 128 + signum, (proc.returncode, err[-2000:])
    assert f"stopped by {signame}" in err
