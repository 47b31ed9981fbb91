"""`lr-conformance export`: every line follows schemas/export.schema.json (plain jsonschema.validate), the
exported traces turn back into the golden CSV files byte for byte with every float bit-exact, the exported case
rebuilds the same case, and each callable's expression is what the vocabulary computes."""

from __future__ import annotations

import json
import math
from pathlib import Path
import struct

import pytest

from conformance import cases, golden, traces, vocabulary
from conformance.cli import main
from conformance.model import Trace

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "cases.jsonl"
    assert main(["export", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "\r" not in text and text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _bits(value):
    return None if value is None else struct.pack("<d", value)


def test_one_schema_valid_line_per_case_in_case_order(exported):
    """Every 4th line, and every line with a non-finite number, whole (jsonschema needs ~15 ms per line here:
    all 277 would take 4 s; every line's case is validated by test_schemas, every trace by the round trip)."""
    from referencing import Registry, Resource

    from conformance.schemas import load_schema

    schema = load_schema("export")
    jsonschema.validate(exported[0], schema)  # a plain validate: the schema needs no registry
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema)).crawl()
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    sample = [line for index, line in enumerate(exported)
              if index % 4 == 0 or any(f'"{text}"' in json.dumps(line) for text in ("nan", "inf", "-inf"))]
    for line in sample:
        validator.validate(line)
    assert len(sample) > len(exported) // 4
    broken = {**exported[0], "callables": [{"path": "lr_lambda", "fn": "constant"}]}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    assert [line["id"] for line in exported] == [case.id for case in cases.load_cases()]


def test_exported_traces_are_the_golden_files_bit_for_bit(exported):
    store = golden.load()
    root = store.root
    checked = 0
    for line in exported:
        manifest_files = [r["file"] for r in store.entry(line["id"])["traces"]]
        assert sorted(t["file"] for t in line["traces"]) == sorted(manifest_files)
        assert line["traces"][0]["torch"] == ""  # the reference trace first
        for item in line["traces"]:
            csv_text = (root / item["file"]).read_text(encoding="utf-8")
            back = Trace.from_json(json.loads(json.dumps(item["trace"])))
            assert traces.dumps(back) == csv_text, item["file"]  # byte for byte
            expected = traces.loads(csv_text)
            for a, b in zip(back.observations, expected.observations, strict=True):
                for column in ("lr", "momentum", "last_lr", "step_arg"):
                    assert _bits(getattr(a, column)) == _bits(getattr(b, column)), (item["file"], a)
            checked += 1
    assert checked >= len(exported)


def test_the_exported_case_is_the_case(exported):
    by_id = {case.id: case for case in cases.load_cases()}
    for line in exported:
        rebuilt = cases.case_from_json(line["case"])
        assert cases.spec_hash(rebuilt) == line["spec"] == cases.spec_hash(by_id[line["id"]])
        assert line["schedulers"] == sorted(by_id[line["id"]].schedulers)


def test_requires_names_what_grading_needs(exported):
    by_id = {line["id"]: line for line in exported}
    assert by_id["steplr/gamma-half-step3"]["traces"][0]["requires"] == []
    assert by_id["steplr/resume-state-dict-at-4"]["traces"][0]["requires"] == ["state_dict"]
    assert "errors" in by_id["steplr/step-size-zero"]["traces"][0]["requires"]
    assert "momentum" in by_id["cycliclr/triangular"]["traces"][0]["requires"]


def test_callables_carry_path_params_with_defaults_and_expression(exported):
    found = {(line["id"], c["path"]): c for line in exported for c in line["callables"]}
    assert found, "no case with a callable"
    for (case_id, path), item in found.items():
        # a user's LRScheduler subclass (kwargs.subclass) is exported beside the callables, from its own registry
        entry = (vocabulary.SUBCLASSES if path.endswith("kwargs.subclass") else vocabulary.ENTRIES)[item["fn"]]
        assert item["expression"] == entry.expression and set(item["params"]) == set(entry.params), case_id
        assert item["stateful"] == (item["fn"] == "call_count_decay")
    per_group = [key for key in found if key[1].endswith("]")]
    assert per_group, "no per-group list of callables"
    nested = [key for key in found if key[1].startswith("children[")]
    assert nested or not any(c.scheduler.children and any("lr_lambda" in s.kwargs for s in c.scheduler.walk())
                             for c in cases.load_cases())
    decay = [item for item in found.values() if item["fn"] == "constant_then_linear_decay"]
    assert all("epoch_count" in item["params"] for item in decay)


@pytest.mark.parametrize("name", [n for n, e in vocabulary.ENTRIES.items() if e.is_callable and n != "call_count_decay"])
def test_each_expression_is_what_the_vocabulary_computes(name):
    """The expression text (the spec for other languages) evaluated as Python gives the built function's
    value bit for bit, at integer and fractional epochs."""
    entry = vocabulary.ENTRIES[name]
    params = {"value": 0.7, "warmup": 4, "n_epochs": 3, "n_epochs_decay": 5, "epoch_count": 1, "gamma": 0.9,
              "step_size": 3, "divisor": 2}
    params = {k: v for k, v in params.items() if k in entry.params}
    function = vocabulary.build({"fn": name, **params})
    for x in [0, 1, 2, 3, 7, 10, 0.5, 2.25, 1e3]:
        expected = eval(entry.expression, {"min": min, "max": max, "float": float}, {**params, "x": x})  # noqa: S307
        actual = function(x)
        assert _bits(float(actual)) == _bits(float(expected)) or (math.isnan(actual) and math.isnan(expected))


def test_the_spec_lists_every_expression():
    spec = (Path(__file__).resolve().parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
    for entry in vocabulary.ENTRIES.values():
        assert f"`{entry.expression}`" in spec, entry.name


def test_filters_and_stdout(capsys):
    assert main(["export", "-k", "steplr/*", "--scheduler", "StepLR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(line)["id"].startswith("steplr/") for line in lines)
    assert main(["export", "-k", "no-such-case/*"]) == 2
    assert "no case matches" in capsys.readouterr().err


def test_a_missing_golden_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    empty = golden.Goldens(tmp_path, {"format": 1, "reference": "2.13.0", "cases": {}})
    monkeypatch.setattr(golden, "load", lambda *a, **k: empty)
    out = tmp_path / "out.jsonl"
    assert main(["export", "-k", "steplr/gamma-half-step3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no golden for case 'steplr/gamma-half-step3'" in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
