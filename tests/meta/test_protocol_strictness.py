"""Protocol strictness (docs/spec.md, "The subprocess protocol"): the hello handshake honours the per-case
timeout, bare NaN/Infinity tokens are protocol errors in both directions, and each schema validates with a
plain `jsonschema.validate` (no registry)."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import pytest
from helpers import HalvingAdapter, make_case

from conformance import cases as cases_mod, golden, runner, serve
from conformance.cli import main
from conformance.model import Status
from conformance.transport import DEFAULT_STARTUP_TIMEOUT, AdapterTimeout, ProtocolError, SubprocessAdapter

SILENT = [sys.executable, "-c", "import time; time.sleep(60)"]

# Answers hello with MODE's reply, then every trace request with MODE's trace (the protocol spoken directly).
SPEAKER = r"""
import json, sys
MODE = sys.argv[1]
HELLO = '{"name": "speaker", "version": "0", "schedulers": ["StepLR"]}'
if MODE == "nan-hello":
    HELLO = '{"name": "speaker", "version": "0", "schedulers": ["StepLR"], "tolerance": {"rel": NaN}}'
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        print(HELLO, flush=True)
        continue
    lr = {"nan-trace": "NaN", "inf-trace": "-Infinity", "string-nan": '"nan"'}[MODE]
    print('{"trace": {"observations": [[0, 0, %s, null, null, null]], "events": []}}' % lr, flush=True)
"""


def speaker(mode: str, **kwargs) -> SubprocessAdapter:
    return SubprocessAdapter([sys.executable, "-c", SPEAKER, mode], **kwargs)


def test_hello_waits_the_per_case_timeout_when_one_is_given():
    start = time.perf_counter()
    with pytest.raises(AdapterTimeout, match=r"no answer to hello within 0.5s"):
        SubprocessAdapter(SILENT, timeout=0.5)
    assert time.perf_counter() - start < 10  # not the 120 s startup default


def test_the_startup_timeout_rule():
    with speaker("string-nan") as default, speaker("string-nan", timeout=7) as given, \
            speaker("string-nan", timeout=7, startup_timeout=60) as explicit:
        assert default.startup_timeout == DEFAULT_STARTUP_TIMEOUT and default.timeout == 30
        assert given.startup_timeout == 7 and given.timeout == 7
        assert explicit.startup_timeout == 60 and explicit.timeout == 7


def test_run_timeout_applies_to_hello(capsys):
    start = time.perf_counter()
    command = "cmd:" + " ".join(f"'{part}'" for part in SILENT)
    assert main(["run", "--adapter", command, "--timeout", "0.5", "-k", "steplr/*"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no answer to hello within 0.5s" in err and "\n" not in err, err
    assert time.perf_counter() - start < 10


def test_the_run_help_states_the_hello_rule(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--startup-timeout SECONDS how long a fresh child process may take to answer hello (default: --timeout when given, else 120)" in help_text


@pytest.mark.parametrize("mode", ["nan-trace", "inf-trace"])
def test_a_bare_non_finite_token_in_a_trace_is_a_protocol_error(mode):
    (case,) = cases_mod.select(cases_mod.load_cases(), ["steplr/gamma-half-step3"])
    with speaker(mode) as adapter:
        outcome = runner.run_case(adapter, case, golden.load())
        assert outcome.status is Status.ERROR
        assert "not a JSON object" in outcome.detail and ("NaN" in outcome.detail or "Infinity" in outcome.detail)
        assert not adapter.alive and adapter.consecutive_losses == 1  # the process was killed


def test_non_finite_strings_are_the_way_to_send_nan():
    (case,) = cases_mod.select(cases_mod.load_cases(), ["steplr/gamma-half-step3"])
    with speaker("string-nan") as adapter:
        outcome = runner.run_case(adapter, case, golden.load())
        assert outcome.status is Status.FAIL and outcome.divergence.actual != outcome.divergence.actual  # nan


def test_a_bare_nan_in_hello_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="NaN"):
        speaker("nan-hello")


def test_serve_refuses_a_request_with_a_bare_nan():
    case = cases_mod.case_to_json(make_case("reducelronplateau/wire", scheduler="ReduceLROnPlateau",
                                            kwargs={"patience": 0}, metrics=[1.0] * 6))
    line = json.dumps({"op": "trace", "case": case}).replace("1.0", "NaN", 1)
    out = io.StringIO()
    serve.serve(HalvingAdapter(), io.StringIO(line + "\n"), out)
    (answer,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert "NaN" in answer["error"] and "not JSON" in answer["error"]


def test_the_protocol_schema_validates_plainly():
    """A trace request holds a case: the protocol schema resolves the case schema it embeds, no registry."""
    jsonschema = pytest.importorskip("jsonschema")
    from conformance.schemas import load_schema

    schema = load_schema("protocol")
    case = cases_mod.case_to_json(make_case("steplr/wire", kwargs={"step_size": 2}))
    jsonschema.validate({"op": "trace", "case": case}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"op": "trace", "case": {**case, "steps": 0}}, schema)


def test_the_result_schema_validates_plainly(tmp_path):
    """`jsonschema.validate(document, result_schema)` with nothing registered (it used to fail with
    `Unresolvable: urn:lr-conformance:protocol:1`)."""
    jsonschema = pytest.importorskip("jsonschema")
    from conformance.schemas import load_schema

    out = tmp_path / "result.json"
    fake = f"{Path(__file__).parent / 'helpers.py'}:HalvingAdapter"  # halves every step: differs at step 1
    assert main(["run", "--adapter", fake, "-k", "steplr/gamma-half-step3", "--json", str(out), "-q"]) == 1
    document = json.loads(out.read_text())
    assert document["results"][0]["traces"]  # the $refs into the protocol schema are exercised
    jsonschema.validate(document, load_schema("result"))
    document["results"][0]["traces"]["actual"]["observations"][0][2] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, load_schema("result"))


def test_startup_timeout_option_gives_hello_more_time_than_a_case(tmp_path):
    """--timeout 0.5 per case, --startup-timeout 60 for hello: a Python adapter (about a second to start) runs."""
    fakes = Path(__file__).parent / "fakes" / "process.py"
    command = f"cmd:{sys.executable} -m conformance.serve --adapter {fakes}:ClosedFormStepLR"
    out = tmp_path / "result.json"
    code = main(["run", "--adapter", command, "--timeout", "0.5", "--startup-timeout", "60", "-k",
                 "steplr/gamma-half-step3", "--json", str(out), "-q"])
    assert code == 0 and json.loads(out.read_text())["counts"]["pass"] == 1


def test_startup_timeout_must_be_positive(capsys):
    assert main(["run", "--startup-timeout", "0", "-k", "steplr/*"]) == 2
    assert "--startup-timeout 0: must be a positive, finite number of seconds" in capsys.readouterr().err


@pytest.mark.parametrize("row", [
    [0.5, 0, 0.1, None, None, None],       # a fractional step: once rounded down to step 0
    ["0", 0, 0.1, None, None, None],       # a step as text
    [True, 0, 0.1, None, None, None],      # a boolean is not a step
    [0, -1, 0.1, None, None, None],        # no group -1
    [0, 0, "0.1", None, None, None],       # a number as text: only "nan", "inf", "-inf" are strings
    [0, 0, 0.1, "0.9", None, None],
    [0, 0, 0.1, None, None],               # five columns
], ids=["fractional-step", "text-step", "bool-step", "negative-group", "text-lr", "text-momentum", "short-row"])
def test_a_trace_is_read_as_strictly_as_the_schema(row):
    """Trace.from_json, what the subprocess route builds every trace with, refuses what the protocol schema
    refuses, rather than converting it to something that might match a golden."""
    import jsonschema

    from conformance import resources
    from conformance.model import Trace

    schema = json.loads(resources.schema_path("protocol").read_text())
    trace_schema = {**schema["$defs"]["trace"], "$defs": schema["$defs"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"observations": [row], "events": []}, trace_schema)
    with pytest.raises(ValueError):
        Trace.from_json({"observations": [row], "events": []})


@pytest.mark.parametrize("row", [[0, "scheduler.step", "notice", "UserWarning", "x"], [0.0, "construct", "error", "E", "x"],
                                 [0, "construct", "error", "", "x"]], ids=["kind", "float-step", "empty-type"])
def test_an_event_is_read_as_strictly_as_the_schema(row):
    from conformance.model import Trace

    with pytest.raises(ValueError):
        Trace.from_json({"observations": [], "events": [row]})


def test_a_well_formed_trace_reads_back_to_itself():
    from conformance.model import Event, Observation, Trace, json_safe

    trace = Trace((Observation(0, 0, 0.1, None, 0.1, None), Observation(1, 1, float("nan"), 0.9, None, 2.0)),
                  (Event(1, "scheduler.step", "warning", "UserWarning", "text"),))
    again = Trace.from_json(json.loads(json.dumps(json_safe(trace.to_json()))))
    assert again.events == trace.events and len(again.observations) == 2
    assert again.observations[0] == trace.observations[0] and again.observations[1].lr != again.observations[1].lr
