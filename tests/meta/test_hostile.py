"""No false pass from a hostile or broken implementation (Bowtie-style: one deliberately broken fake per
behaviour, tests/meta/fakes/hostile.py, each with the exact status it must get). A trace holds each (step,
group) once; one request gets one answer line; a declaration is validated before it is believed; a process
never outlives the run; answer lines are bounded; transport problems are named as what they are. And a
hypothesis test feeds the transport mutated answer lines: a corrupted answer is never graded a pass, and
nothing raises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import faults as ft
from helpers import make_case, torch_store

from conformance import golden, runner, serve
from conformance.adapters import AdapterLoadError, load_adapter
from conformance.adapters.torch_reference import TorchAdapter
from conformance.cases import case_to_json
from conformance.cli import main
from conformance.fuzz import differential
from conformance.model import AdapterInfo, Status, Tolerance, Trace
from conformance.regenerate import regenerate
from conformance.transport import PROTOCOL_VERSION, ProtocolError, SubprocessAdapter

HOSTILE = Path(__file__).parent / "fakes" / "hostile.py"
HALF = {"step_size": 3, "gamma": 0.5}
ONE = make_case("steplr/hostile-one", kwargs=HALF, groups=[{"lr": 0.1}], steps=6)
SAME = make_case("steplr/hostile-same-trace", kwargs=HALF, groups=[{"lr": 0.1}], steps=6)  # ONE's trace
TWO = make_case("steplr/hostile-two-groups", kwargs=HALF, steps=6)
CASES = (ONE, SAME, TWO)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-goldens") / "traces"
    assert regenerate(TorchAdapter(), CASES, torch_store(root), out=lambda s: None) == 0
    return golden.load(root)


def hostile(mode: str, **kwargs) -> SubprocessAdapter:
    return SubprocessAdapter([sys.executable, str(HOSTILE), mode], **kwargs)


def graded(mode: str, store, cases=(ONE,), **kwargs):
    with hostile(mode, **kwargs) as adapter:
        return runner.run_cases(adapter, cases, store)


def test_the_honest_fake_passes(store):
    assert [o.status for o in graded("honest", store, CASES)] == [Status.PASS] * 3


# Every corruption, with the exact status and what the detail must say. The first ones were false passes or
# misnamed before (issue 23); the rest were already caught and must stay caught.
CORRUPTIONS = [
    ("duplicate-observations", Status.ERROR, "holds step 0, group 0 twice (observations 0 and 6)"),
    ("duplicate-right-then-wrong", Status.ERROR, "holds step 0, group 0 twice"),
    ("deep-json", Status.ERROR, "the adapter's answer was malformed: answered a line that is not a JSON object"),
    ("long-line", Status.ERROR, "longer than 16777216 bytes"),
    ("endless-line", Status.ERROR, "longer than 16777216 bytes"),
    ("orphan", Status.CRASH, "exited with code 3 before answering the case, leaving a process"),
    ("garbage", Status.ERROR, "the adapter's answer was malformed"),
    ("bare-nan", Status.ERROR, "bare NaN is not JSON"),
    ("string-number", Status.ERROR, "malformed trace"),
    ("huge-number", Status.FAIL, "expected 0.1, got inf"),
    ("fewer-steps", Status.FAIL, "step 5 group 0 length: expected an observation, got none (trace ended)"),
    ("extra-step", Status.FAIL, "step 6"),
    ("array-answer", Status.ERROR, "not a JSON object"),
    ("invalid-utf8", Status.ERROR, "malformed trace"),
    ("half-line-exit", Status.CRASH, "exited with code 1 part-way through its answer to the case (a line with no newline"),
    ("exit", Status.CRASH, "exited with code 4 before answering the case"),
]


@pytest.mark.parametrize("mode, status, fragment", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_each_corruption_gets_its_status(store, mode, status, fragment):
    (outcome,) = graded(mode, store)
    assert outcome.status is status and fragment in outcome.detail, outcome.detail
    assert "\n" not in outcome.detail and " raised " not in outcome.detail  # named as what it is
    assert len(outcome.detail) < 600


def test_a_hang_is_a_timeout_and_three_open_the_breaker(store):
    outcomes = graded("hang", store, CASES + (ONE,), timeout=0.5, startup_timeout=30)
    assert [o.status for o in outcomes] == [Status.TIMEOUT] * 3 + [Status.CRASH]
    assert "circuit breaker open" in outcomes[3].detail


def _alive(mode: str) -> list[int]:
    """Processes (not zombies) whose command line is hostile.py MODE."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(HOSTILE).encode() in argv and mode.encode() in argv and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _gone(mode: str, seconds: float = 2.0) -> list[int]:
    """What is still alive of `mode` after up to `seconds`: SIGKILL is sent when the run ends, but the kernel
    takes its moment to end a process (under load, measurably)."""
    deadline = time.monotonic() + seconds
    while (alive := _alive(mode)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc").is_dir(), reason="needs fork and /proc")
def test_no_process_outlives_the_run(store):
    start = time.perf_counter()
    outcomes = graded("orphan", store, (ONE, TWO))
    assert [o.status for o in outcomes] == [Status.CRASH] * 2
    assert time.perf_counter() - start < 20  # a crash, not two 30 s timeouts
    assert _gone("orphan") == []


def test_a_second_answer_line_is_a_protocol_error_not_the_next_answer(store):
    """ONE and SAME have the same trace: read as the answer to SAME, ONE's extra line would pass."""
    for mode in ("two-lines", "stray-line"):
        outcomes = graded(mode, store, (ONE, SAME, TWO))
        assert [o.status for o in outcomes] == [Status.PASS, Status.ERROR, Status.PASS], mode
        assert "wrote a line no request asked for" in outcomes[1].detail


def test_a_stderr_flood_is_bounded_and_loses_nothing(store):
    with hostile("stderr-flood") as adapter:
        assert [o.status for o in runner.run_cases(adapter, (ONE,), store)] == [Status.PASS]
        assert sum(len(line) for line in adapter._stderr) < 30_000  # 64 MB written, about 1 KB kept


def test_the_answer_limit_is_an_option(store):
    # The lines the fake writes, measured as it writes them: its hello, and its answer to the two-group case.
    hello = len(json.dumps(serve.handle(ft.StepAdapter(), {"op": "hello", "protocol": PROTOCOL_VERSION})))
    request = {"op": "trace", "case": case_to_json(TWO)}
    answer = len(json.dumps(serve.handle(ft.StepAdapter(), request), separators=(",", ":")))
    assert hello < answer  # a limit between the two lets the hello through and stops the answer
    (outcome,) = graded("honest", store, (TWO,), max_answer_bytes=answer - 1)
    assert outcome.status is Status.ERROR and f"longer than {answer - 1} bytes" in outcome.detail
    (outcome,) = graded("honest", store, (TWO,), max_answer_bytes=answer)  # bytes before the newline
    assert outcome.status is Status.PASS
    with pytest.raises(ProtocolError, match=f"longer than {hello - 1} bytes"):
        hostile("honest", max_answer_bytes=hello - 1)  # the hello answer is bounded too


# --- declarations -------------------------------------------------------------------------------------

HELLOS = [
    ("schedulers-string", "schedulers: 'StepLR' is not of type 'array'"),
    ("mirrors-number", "mirrors: 5 is not of type"),
    ("mirrors-dict", "mirrors: {'torch': '2.13.0'} is not of type"),
    ("tolerance-inf-string", "tolerance.rel: 'inf' is not of type 'number'"),
    ("tolerance-nan-string", "tolerance.rel: 'nan' is not of type 'number'"),
    ("tolerance-huge-no-reason", "tolerance: 'reason' is a required property"),
    ("tolerance-called-bit-exact", "tolerance.reason"),
    ("tolerance-negative", "tolerance.rel: -0.001 is less than the minimum of 0"),
    ("name-empty", "name"),
    ("features-unknown", "features[1]: 'time_travel' is not one of"),
]


@pytest.mark.parametrize("mode, fragment", HELLOS, ids=[h[0] for h in HELLOS])
def test_a_declaration_is_validated_before_it_is_believed(capsys, mode, fragment):
    with pytest.raises(ProtocolError, match="the hello answer is not a valid declaration"):
        hostile(mode)
    assert main(["run", "-k", "steplr/gamma-half-step3", "--adapter", f"cmd:{sys.executable} {HOSTILE} {mode}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lr-conformance: --adapter") and fragment in err and "\n" not in err, err


IN_PROCESS = [
    (dict(schedulers="StepLR"), "schedulers must be a set of strings, got str"),
    (dict(mirrors=5), "mirrors must be a torch release"),
    (dict(tolerance=Tolerance(float("inf"), 0.0, "wide")), "tolerance.rel must be a finite number >= 0, got inf"),
    (dict(tolerance=Tolerance(float("nan"), 0.0, "wide")), "tolerance.rel must be a finite number >= 0, got nan"),
    (dict(tolerance=Tolerance(1e300, 0.0)), "is not exact and gives no reason"),
    (dict(tolerance=Tolerance(0.0, -1.0, "x")), "tolerance.abs must be a finite number >= 0"),
    (dict(features=frozenset({"time_travel"})), "features: 'time_travel' is not one of"),
    (dict(name=""), "name must be a non-empty string"),
]


@pytest.mark.parametrize("change, fragment", IN_PROCESS, ids=[c[1][:30] for c in IN_PROCESS])
def test_an_in_process_declaration_is_validated_too(store, change, fragment):
    fields = dict(name="bad", version="1", schedulers=frozenset({"StepLR"}))
    adapter = ft.StepAdapter()
    adapter.info = AdapterInfo(**{**fields, **change})
    (outcome,) = runner.run_cases(adapter, (ONE,), store)
    assert outcome.status is Status.ERROR and fragment in outcome.detail, outcome.detail


def test_an_in_process_declaration_is_a_configuration_error_at_load(tmp_path, capsys):
    path = tmp_path / "wide.py"
    path.write_text("from conformance.adapters import FunctionAdapter\n"
                    "from conformance.model import AdapterInfo, Tolerance\n"
                    "class Wide(FunctionAdapter):\n"
                    "    info = AdapterInfo('wide', '1', frozenset({'StepLR'}), tolerance=Tolerance(1e300, 0.0))\n"
                    "    def lrs_at(self, case, step):\n"
                    "        return [12345.0 for _ in case.groups]\n")
    with pytest.raises(AdapterLoadError, match="is not exact and gives no reason"):
        load_adapter(str(path))
    assert main(["run", "-k", "steplr/gamma-half-step3", "--adapter", str(path)]) == 2
    assert "gives no reason" in capsys.readouterr().err


def test_a_run_that_grades_nothing_says_so_and_exits_5(capsys):
    spec = f"{Path(ft.__file__)}:StepAdapter"  # StepLR only: every cosine case is unsupported
    assert main(["run", "-k", "cosineannealinglr/", "--adapter", spec]) == 5
    out = capsys.readouterr().out
    assert out.rstrip().endswith("- NOTHING GRADED") and " OK" not in out.splitlines()[-1]


# --- fuzz grades the candidate's trace as run does -------------------------------------------------


class Duplicating(ft.StepAdapter):
    """Every observation twice, a wrong copy first."""

    def trace(self, case):
        right = super().trace(case)
        wrong = tuple(type(o)(o.step, o.group, 12345.0, o.momentum, o.last_lr, o.step_arg) for o in right.observations)
        return Trace(wrong + right.observations, right.events)


def test_fuzz_does_not_grade_a_trace_with_duplicates():
    verdict = differential.check(ONE, ft.StepAdapter(), Duplicating())
    assert verdict.kind is differential.Kind.DIVERGENT and verdict.status is Status.ERROR
    assert "holds step 0, group 0 twice" in verdict.reason


# --- the transport under mutated answers (hypothesis) -----------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

RELAY = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from fakes.faults import StepAdapter
from conformance import serve
adapter = StepAdapter()
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        print(json.dumps(serve.handle(adapter, request)), flush=True)
    else:  # the test put the answer to give in the case's `why`
        sys.stdout.buffer.write(bytes.fromhex(request["case"]["why"].split(":")[1]) + b"\n")
        sys.stdout.flush()
"""


def _mutations(honest: bytes):
    index = st.integers(0, len(honest) - 1)
    byte = st.integers(0, 255)
    return st.one_of(
        st.tuples(index, byte).map(lambda p: honest[:p[0]] + bytes([p[1]]) + honest[p[0] + 1:]),  # one byte changed
        index.map(lambda i: honest[:i] + honest[i + 1:]),  # one byte deleted
        st.tuples(index, byte).map(lambda p: honest[:p[0]] + bytes([p[1]]) + honest[p[0]:]),  # one byte inserted
        index.map(lambda i: honest[:i]),  # cut short
        st.tuples(index, index).map(lambda p: honest[:min(p)] + honest[max(p):]),  # a slice removed
        st.tuples(index, index, index).map(lambda p: honest[:p[2]] + honest[min(p[:2]):max(p[:2])] + honest[p[2]:]),
        st.binary(max_size=200),  # anything
    )


@pytest.fixture(scope="module")
def relay():
    adapter = SubprocessAdapter([sys.executable, "-c", RELAY, str(Path(__file__).parent)], timeout=10)
    yield adapter
    adapter.close()


def _honest(store) -> bytes:
    expected, _ = store.expected(ONE, store.reference)
    return json.dumps({"trace": expected.to_json()}, separators=(",", ":")).encode()


def test_mutated_answers_are_never_graded_a_pass(store, relay):
    honest = _honest(store)
    expected, _ = store.expected(ONE, store.reference)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_mutations(honest))
    def check(line: bytes):
        line = line.replace(b"\n", b" ").replace(b"\r", b" ")  # one line: a newline would be a second answer
        case = make_case(ONE.id, kwargs=HALF, groups=[{"lr": 0.1}], steps=6, why=f"relay:{line.hex()}:")
        outcome = runner.run_case(relay, case, store)  # never raises: every problem is a status
        assert "\n" not in outcome.detail
        if outcome.status is Status.PASS:  # only an answer that says what the honest one says may pass
            reply = json.loads(line.decode("utf-8"))
            got = Trace.from_json(reply["trace"])
            assert got == expected, line
        relay.breaker_open, relay.consecutive_losses = False, 0  # keep relaying after protocol errors

    check()


# --- a reference blinded by the candidate ------------------------------------------------------------

FAKES = Path(__file__).parent / "fakes"


def _fuzz(candidate: str, *options: str):
    return subprocess.run([sys.executable, "-m", "conformance", "fuzz", "--adapter", str(FAKES / candidate),
                           "--scheduler", "StepLR", "--max-examples", "30", "--seed", "1", "-q", *options],
                          capture_output=True, text=True, timeout=600)


def test_fuzz_finds_what_a_candidate_patched_into_torch_on_import():
    # By default an in-process candidate gets a reference in a process of its own: the patch reaches only
    # the candidate's torch, and the first StepLR example diverges.
    done = _fuzz("patches_torch.py:PatchedTorch")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DIVERGENCE  steplr/fuzz-" in done.stdout and "ulp" in done.stdout


def test_fuzz_refuses_a_reference_the_candidate_patched():
    # --reference-in-process: the candidate's import patches the reference's torch too; without the check of
    # the goldens, every example would agree ("no divergence") though StepLR is wrong on every step.
    done = _fuzz("patches_torch.py:PatchedTorch", "--reference-in-process")
    assert done.returncode == 2, done.stdout + done.stderr
    # one problem, one line (older torch releases may print their own warnings to stderr beside it)
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("lr-conformance:")]
    assert line.startswith("lr-conformance: --reference torch: does not reproduce ")
    assert ": fail: step 0 group 0 lr: expected " in line and "ulp" in line  # the first wrong value, named


def test_unchecked_reference_shows_what_the_check_prevents():
    done = _fuzz("patches_torch.py:PatchedTorch", "--reference-in-process", "--unchecked-reference")
    assert done.returncode == 0 and "no divergence in 30 examples" in done.stdout, done.stdout + done.stderr


def test_a_candidate_patching_torch_while_it_traces_is_found_by_the_default_reference():
    done = _fuzz("patches_torch_later.py:PatchesWhileTracing")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DIVERGENCE  steplr/fuzz-" in done.stdout


def test_reference_in_process_is_blinded_by_a_patch_applied_while_tracing():
    # what the default prevents: the check of the goldens ran before the patch, and from the first trace on
    # candidate and reference are the same patched StepLR
    done = _fuzz("patches_torch_later.py:PatchesWhileTracing", "--reference-in-process")
    assert done.returncode == 0 and "no divergence in 30 examples" in done.stdout, done.stdout + done.stderr
