"""schemas/case.schema.json and `lr-conformance check`: every committed case validates; broken case files are
caught, every problem at once, one line each naming file, line, case and key; the schema agrees with the code
(vocabulary, scheduler names, torch's constructor arguments); embedded schema copies match their sources."""

from __future__ import annotations

import pytest
from test_cases import GOOD, write  # the same small valid case file the case-loader tests use

from conformance import cases, vocabulary
from conformance.cli import main
from conformance.model import REMOVED_KWARGS
from conformance.schemas import bundled_copies_problems, case_problems, load_schema

pytest.importorskip("jsonschema")

DEEP = ('scheduler = "SequentialLR"\nkwargs = { milestones = [] }\nchildren = [{ scheduler = "SequentialLR", children = '
        '[{ scheduler = "SequentialLR", children = [{ scheduler = "SequentialLR", children = [{ scheduler = "StepLR" }] }] }] }]')
WIDE = ('scheduler = "ChainedScheduler"\nchildren = [' + ", ".join(['{ scheduler = "ExponentialLR", kwargs = { gamma = 0.9 } }'] * 17)
        + "]")


def test_every_committed_case_file_validates():
    problems = case_problems()
    assert problems == [], "\n".join(problems[:20])


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("kwargs = { step_sise = 2 }", "kwargs: Additional properties are not allowed ('step_sise' was unexpected)"),
        ("kwargs = { step_size = 2, lr_lambda = { fn = 'constant', value = 1 } }", "'lr_lambda' was unexpected"),
        ("steps = 0", "steps: 0 is less than the minimum of 1"),
        ("steps = 10001", "steps: 10001 is greater than the maximum of 10000"),
        ("groups = [" + ", ".join(["{ lr = 0.1 }"] * 17) + "]", "groups: "),
        ('groups = [{ lr = "fast" }]', "groups[0].lr: 'fast' is not a number"),
        ("optimizer = 3", "optimizer: 3 is not an optimizer"),
        ('optimizer = { name = "RMSprop" }', "optimizer.name: 'RMSprop' is not one of ['SGD', 'Adam', 'Adagrad', 'AdamW', 'Rprop']"),
        ("children = []", "children: children are only for ChainedScheduler and SequentialLR"),
        (DEEP, "children[0].children[0].children[0].children: "),
        (WIDE, "children: "),
        ('expect_error = "Value Error"', "expect_error: 'Value Error' does not match"),
        ("resume_at = 2", "resume_at only applies to protocols resume-state-dict and scheduler-first"),
        ('protocol = "resume-state-dict"', "'resume_at' is a required property"),
        ('protocol = "step-epoch"', "'epochs' is a required property"),
        ('tensor_lr = "yes"', "tensor_lr: 'yes' is not of type 'boolean'"),
        ('groups = [{ lr = 0.1, tensor_lr = "yes" }]', "groups[0].tensor_lr: 'yes' is not of type 'boolean'"),
        ('kwargs = { step_size = 2, gamma = { tensor = 0.5, dtype = "f64" } }', "kwargs.gamma"),
        ('kwargs = { step_size = 2, verbose = "loud" }', "kwargs.verbose: 'loud' is not of type 'boolean'"),
        ('scheduler = "SWALR"\nkwargs = { swa_lr = 0.01, verbose = true }', "kwargs: Additional properties"),
        ("torch = 2024-01-01", "torch: "),
        ('interventions = [{ at = 1, do = "read-scheduler", attribute = "lr" }]',
         "interventions[0].attribute: 'lr' is not one of"),
        ('interventions = [{ at = 1, do = "set-scheduler", attribute = "last_epoch", value = [1] }]',
         "interventions[0]: "),  # the parser's own line names the key (test_interventions.py)
        ('interventions = [{ at = 1, do = "add-scheduler", from = "2", scheduler = { scheduler = "ExponentialLR", '
         'kwargs = { gamma = 0.9 } } }]', "interventions[0]: "),
        ('interventions = [{ at = 1, do = "add-scheduler", first = true, replace = true, scheduler = { scheduler = '
         '"ExponentialLR", kwargs = { gamma = 0.9 } } }]', "interventions[0]: "),
        ('interventions = [{ at = 1, do = "change-argument", argument = "lr", group = 0 }]', "interventions[0]: "),
        ('interventions = [{ at = 1, do = "change-argument", argument = "lr", group = 0, multiply = "x" }]',
         "interventions[0]: "),
        ('scheduler = "ReduceLROnPlateau"\nkwargs = {}', "'metrics' is a required property"),
        ('scheduler = "LambdaLR"\nkwargs = { lr_lambda = { fn = "exponential" } }', "kwargs.lr_lambda"),
        ('scheduler = "LambdaLR"\nkwargs = { lr_lambda = { fn = "exponential", gamma = 0.9, beta = 1 } }', "kwargs.lr_lambda"),
        ('scheduler = "ChainedScheduler"\nchildren = [{ scheduler = "StepLR", kwargs = { step_size = 1 }, extra = 1 }]',
         "children[0]: Additional properties are not allowed ('extra' was unexpected)"),
        ('on = "second-optimizer"', "on: 'second-optimizer' is not one of ['optimizer', 'none']"),
        ('scheduler = "ChainedScheduler"\nchildren = [{ scheduler = "StepLR", kwargs = { step_size = 1 }, on = "x" }]',
         "children[0].on: 'x' is not one of"),
        ('scheduler = "ChainedScheduler"\nchildren = [{ none = false }]', "children[0].none: True was expected"),
    ],
)
def test_a_broken_case_is_one_line_naming_file_line_case_and_key(tmp_path, extra, expected):
    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\n' + extra + "\n"
    problems = case_problems(write(tmp_path, body))
    assert problems, f"not caught: {extra}"
    assert all(line.startswith(f"{tmp_path / 'steplr.toml'}:13: steplr/b: ") for line in problems), problems
    assert any(expected in line for line in problems), problems
    assert all("\n" not in line and len(line) < 400 for line in problems)


def test_check_reports_every_problem_of_every_file_and_exits_2(tmp_path, monkeypatch, capsys):
    write(tmp_path, GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "b"\nsteps = 0\n\n[[case]]\nid = "steplr/c"\nwhy = "c"\n'
          'kwargs = { step_sise = 1 }\n')
    write(tmp_path, "[[case]]\nid = 'lambdalr/x'\nwhy = 'x'\nscheduler = 'LambdaLR'\ngroups = [{ lr = 0.1 }]\n", "lambdalr.toml")
    write(tmp_path, "cases = 3\n", "other.toml")
    monkeypatch.setattr(cases, "CASES_DIR", tmp_path)
    assert main(["check"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith("lr-conformance: ") for line in lines)
    assert "lambdalr.toml:2: lambdalr/x: 'steps' is a required property" in lines[0]
    assert "other.toml: Additional properties are not allowed ('cases' was unexpected)" in lines[1]
    assert "steplr.toml:13: steplr/b: steps: 0 is less than the minimum of 1" in lines[2]
    assert "steplr.toml:18: steplr/c: kwargs: Additional properties" in lines[3]


def test_a_good_file_has_no_problems(tmp_path):
    assert case_problems(write(tmp_path, GOOD)) == []


def test_defaults_merge_shallowly_before_validation(tmp_path):
    """A case's table replaces the default one whole: the default's keys do not leak into it."""
    body = GOOD.replace("steps = 4", 'steps = 4\noptimizer = { name = "SGD", momentum = 0.9 }') + \
        '\n[[case]]\nid = "steplr/b"\nwhy = "b"\nkwargs = { step_size = 2 }\noptimizer = { momentum = 0.5 }\n'
    (problem,) = case_problems(write(tmp_path, body))
    assert "steplr/b: optimizer: " in problem  # no name: the default's name is not merged in


def test_the_subclasses_in_the_schema_are_the_code_subclasses():
    defs = load_schema("case")["$defs"]
    assert defs["subclassSpec"]["properties"]["fn"]["enum"] == list(vocabulary.SUBCLASSES)
    (rule,) = defs["subclassSpec"]["allOf"]
    assert rule["if"]["properties"]["fn"]["enum"] == list(vocabulary.SUBCLASSES)
    assert all(entry.params == tuple(rule["then"]["required"]) for entry in vocabulary.SUBCLASSES.values())
    assert set(defs["LRScheduler.kwargs"]["properties"]) == {"subclass", "last_epoch"}


def test_the_vocabulary_in_the_schema_is_the_code_vocabulary():
    defs = load_schema("case")["$defs"]
    assert defs["functionSpec"]["properties"]["fn"]["enum"] == list(vocabulary.ENTRIES)
    rules = {rule["if"]["properties"]["fn"]["const"]: rule["then"] for rule in defs["functionSpec"]["allOf"]}
    for name, entry in vocabulary.ENTRIES.items():
        assert set(rules[name]["properties"]) - {"fn"} == set(entry.params), name
        assert set(rules[name].get("required", ())) == set(entry.params) - set(entry.defaults or {}), name


def test_the_schema_names_the_code_schedulers_and_keys():
    schema = load_schema("case")
    assert schema["$defs"]["schedulerName"]["enum"] == list(cases.SCHEDULERS)
    assert set(schema["properties"]) == cases.CASE_KEYS
    assert schema["$defs"]["optimizer"]["anyOf"][0]["enum"] == list(cases.OPTIMIZERS)
    assert schema["properties"]["id"]["pattern"] == cases.ID_PATTERN.pattern


def test_the_kwargs_are_torch_213s_constructor_arguments():
    """The schema's kwargs per scheduler are the reference release's constructor parameters (minus the
    optimizer and schedulers the harness passes; ChainedScheduler's `optimizer` is the boolean switch), plus the
    arguments older releases took and torch removed (model.REMOVED_KWARGS: `verbose`), and no other."""
    torch = pytest.importorskip("torch")
    if not torch.__version__.startswith("2.13.0"):
        pytest.skip(f"the schema follows the reference torch 2.13.0's signatures; this is torch {torch.__version__}")
    import inspect

    from conformance.adapters.torch_reference import scheduler_class

    defs = load_schema("case")["$defs"]
    for name in cases.SCHEDULERS:
        params = set(list(inspect.signature(scheduler_class(name).__init__).parameters)[1:])
        params -= {"schedulers"} | ({"optimizer"} if name != "ChainedScheduler" else set())
        assert not params & set(REMOVED_KWARGS), f"{name}: torch 2.13 takes an argument listed as removed"
        params |= {arg for arg, takers in REMOVED_KWARGS.items() if name in takers}
        assert set(defs[f"{name}.kwargs"]["properties"]) == params, name


def test_embedded_schema_copies_match_their_sources():
    assert bundled_copies_problems() == []


def test_a_stale_embedded_copy_is_reported(tmp_path):
    import shutil

    from conformance.schemas import SCHEMAS_DIR, write_bundles

    shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    case_file = tmp_path / "schemas" / "case.schema.json"
    case_file.write_text(case_file.read_text().replace('"maximum": 10000', '"maximum": 20000', 1))
    stale = bundled_copies_problems(tmp_path / "schemas")
    assert len(stale) == 3 and all("tools/bundle_schemas.py" in line for line in stale)
    assert write_bundles(tmp_path / "schemas") == ["protocol", "result", "export"]
    assert bundled_copies_problems(tmp_path / "schemas") == []
    assert write_bundles(tmp_path / "schemas") == []
