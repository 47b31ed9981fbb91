"""The subprocess protocol: the server side in-process (fast), the JSON Schema, case JSON round trips,
configuration errors, and one end-to-end run of the real torch adapter behind `python -m conformance.serve`."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest
from fakes import broken_torch as bt
from helpers import HalvingAdapter, make_case

from conformance import cases as cases_mod, golden, runner, serve
from conformance.cli import main
from conformance.model import FEATURES, Status, Trace
from conformance.transport import ProtocolError, SubprocessAdapter

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = json.loads((ROOT / "schemas" / "protocol.schema.json").read_text())


def validator(definition: str):
    schema = {"$schema": PROTOCOL["$schema"], "$ref": f"#/$defs/{definition}", "$defs": PROTOCOL["$defs"]}
    return jsonschema.Draft202012Validator(schema)


def exchange(adapter, *requests) -> list[dict]:
    out = io.StringIO()
    assert serve.serve(adapter, io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


CASE = make_case("steplr/wire", kwargs={"step_size": 2, "gamma": 0.5})


def test_hello_and_trace_answers_follow_the_schema():
    hello, traced, refused = exchange(HalvingAdapter(), {"op": "hello", "protocol": 1},
                                      {"op": "trace", "case": cases_mod.case_to_json(CASE)}, {"op": "dance"})
    validator("adapterInfo").validate(hello)
    validator("traceResponse").validate(traced)
    validator("errorResponse").validate(refused)
    validator("response").validate(hello)
    assert hello["name"] == "halving" and "unknown op" in refused["error"]
    assert Trace.from_json(traced["trace"]).observations[4].lr == 0.1 * 0.5**2  # step 2, group 0


def test_requests_follow_the_schema():
    validator("request").validate({"op": "hello", "protocol": 1})
    validator("request").validate({"op": "trace", "case": cases_mod.case_to_json(CASE)})


def test_every_case_on_disk_is_a_valid_protocol_case():
    check = validator("case")
    for case in cases_mod.load_cases():
        check.validate(cases_mod.case_to_json(case))


def test_schema_enums_match_the_code():
    case_schema = PROTOCOL["$defs"]["caseSchema"]  # the embedded copy of schemas/case.schema.json
    assert case_schema["$defs"]["schedulerName"]["enum"] == list(cases_mod.SCHEDULERS)
    assert PROTOCOL["$defs"]["feature"]["enum"] == list(FEATURES)
    assert set(case_schema["properties"]) == cases_mod.CASE_KEYS


def test_non_finite_numbers_cross_the_wire_as_strings():
    plateau = make_case("reducelronplateau/wire", scheduler="ReduceLROnPlateau", kwargs={"patience": 0},
                        metrics=[1.0, math.nan, math.inf, -math.inf, 0.5, 0.5])
    sent = cases_mod.case_to_json(plateau)
    assert sent["metrics"][1:4] == ["nan", "inf", "-inf"]
    json.dumps(sent, allow_nan=False)
    back = cases_mod.case_from_json(json.loads(json.dumps(sent)))
    assert cases_mod.case_to_json(back) == sent and math.isnan(back.metrics[1]) and back.metrics[2] == math.inf

    (answer,) = exchange(bt.ReturnsNaN(), {"op": "trace", "case": cases_mod.case_to_json(CASE)})
    validator("traceResponse").validate(answer)
    assert answer["trace"]["observations"][4][2] == "nan"  # step 2, group 0
    assert math.isnan(Trace.from_json(answer["trace"]).observations[4].lr)


def test_text_that_looks_non_finite_stays_text():
    data = cases_mod.case_to_json(make_case("steplr/wire", tags=["inf"], kwargs={"step_size": 2}))
    assert cases_mod.case_from_json(data).tags == ("inf",)


class Exploding(HalvingAdapter):
    def lrs_at(self, case, step):
        raise RuntimeError("boom")


def test_adapter_exceptions_and_bad_requests_are_error_answers():
    bad, not_object, raised = exchange(Exploding(), {"op": "trace", "case": {"id": "nope"}}, "a string",
                                       {"op": "trace", "case": cases_mod.case_to_json(CASE)})
    assert "cannot read the case" in bad["error"]
    assert "request must be a JSON object" in not_object["error"]
    assert raised == {"error": "RuntimeError: boom", "type": "RuntimeError"}
    out = io.StringIO()
    serve.serve(Exploding(), io.StringIO("{not json\n\n"), out)
    (not_json,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "not JSON" in not_json["error"]
    for answer in (bad, not_object, raised, not_json):
        validator("errorResponse").validate(answer)


@pytest.mark.parametrize(
    "command, fragment",
    [
        ("cmd:no-such-program-xyz", "cannot start"),
        # reads the hello first, so that 'hi' answers it (printed at once it may come before hello is sent:
        # that is the stray-line refusal, tests/meta/test_hostile.py)
        (f"cmd:{sys.executable} -c \"import sys; sys.stdin.readline(); print('hi')\"", "not a JSON object"),
        (f"cmd:{sys.executable} -m conformance.serve --adapter nope", "exited with code 2"),
    ],
)
def test_an_adapter_process_that_cannot_say_hello_is_a_config_error(capsys, command, fragment):
    assert main(["run", "--adapter", command, "-k", "steplr/*"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lr-conformance: --adapter") and fragment in err and "\n" not in err, err


def test_hello_timeout_is_a_config_error():
    with pytest.raises(Exception, match="no answer to hello within 0.3s"):
        SubprocessAdapter([sys.executable, "-c", "import time; time.sleep(30)"], startup_timeout=0.3, timeout=0.3)


# An adapter "in another language": the protocol spoken directly, without importing lr-conformance.
FOREIGN = """
import json, sys
MODE = sys.argv[1]
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "hello":
        answer = {"name": "foreign", "version": "0", "schedulers": ["StepLR"], "protocol": 2 if MODE == "v2" else 1}
    else:
        case = request["case"]
        kwargs = case["kwargs"]
        rows = [[step, group, spec["lr"] * kwargs.get("gamma", 0.1) ** (step // kwargs["step_size"]), None, None, None]
                for step in range(case["steps"]) for group, spec in enumerate(case["groups"])]
        answer = {"trace": {"observations": rows if MODE == "ok" else "garbage", "events": []}}
    print(json.dumps(answer), flush=True)
"""


def foreign(mode: str) -> SubprocessAdapter:
    return SubprocessAdapter([sys.executable, "-c", FOREIGN, mode])


def test_an_adapter_in_another_language_is_graded():
    (case,) = cases_mod.select(cases_mod.load_cases(), ["steplr/gamma-half-step3"])
    with foreign("ok") as good, foreign("garbage") as bad:
        assert good.info.name == "foreign" and good.info.schedulers == {"StepLR"}
        assert runner.run_case(good, case, golden.load()).status is Status.PASS
        outcome = runner.run_case(bad, case, golden.load())
        assert outcome.status is Status.ERROR and "malformed trace" in outcome.detail


def test_another_protocol_version_is_refused():
    with pytest.raises(ProtocolError, match="speaks protocol 2"):
        foreign("v2")


def test_torch_behind_serve_passes_the_steplr_goldens(tmp_path):
    """End to end, with the real torch adapter in a child process (one torch import, ~3 s)."""
    out = tmp_path / "result.json"
    command = f"cmd:{sys.executable} -m conformance.serve --adapter torch"
    assert main(["run", "--adapter", command, "-k", "steplr/*", "--json", str(out), "--timeout", "60"]) == 0
    document = json.loads(out.read_text())
    assert document["adapter"]["name"] == "torch" and document["adapter"]["spec"] == command
    counts = document["counts"]  # steplr/tensor-lr is skipped on torch < 2.4
    assert counts["pass"] > 0 and counts["pass"] + counts.get("skip", 0) == len(document["results"])
