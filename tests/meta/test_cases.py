"""The case-file checker: schema errors are one line naming file, line and case; the real data is clean."""

import pytest

from conformance import cases, golden
from conformance.cases import CaseError

GOOD = '''
[defaults]
scheduler = "StepLR"
groups = [{ lr = 0.1 }]
steps = 4

[[case]]
id = "steplr/a"
why = "first"
kwargs = { step_size = 2 }
'''


def write(tmp_path, body, name="steplr.toml"):
    (tmp_path / name).write_text(body)
    return tmp_path


def test_the_committed_cases_load_and_have_unique_ids():
    loaded = cases.load_cases()
    assert len({c.id for c in loaded}) == len(loaded) > 0


def test_every_committed_case_has_a_consistent_golden():
    problems = golden.problems(golden.load(), cases.load_cases())
    assert problems == [], "\n".join(problems[:20])


def test_good_file_loads(tmp_path):
    (case,) = cases.load_cases(write(tmp_path, GOOD))
    assert case.id == "steplr/a" and case.scheduler.kwargs == {"step_size": 2} and case.source.endswith("steplr.toml")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('bogus = 1', "unknown keys ['bogus']"),
        ('protocol = "sideways"', "protocol 'sideways'"),
        ('protocol = "resume-state-dict"\nresume_at = 9', "0 < resume_at < steps"),
        ('metrics = [1, 2, 3, 4]', "'metrics'"),
        ('kwargs = { lr_lambda = { fn = "nope" } }', "unknown function 'nope'"),
        ('kwargs = { lr_lambda = { fn = "exponential" } }', "missing ['gamma']"),
        ('torch = "at least two"', "PEP 440"),
        ('steps = 0', "'steps' must be a positive integer"),
    ],
)
def test_schema_errors_name_file_line_and_case(tmp_path, extra, message):
    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\n' + extra + "\n"
    with pytest.raises(CaseError) as info:
        cases.load_cases(write(tmp_path, body))
    text = str(info.value)
    assert "steplr.toml:13: steplr/b: " in text, text  # 13 = the line of the case's id
    assert message in text and "\n" not in text


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace('scheduler = "StepLR"', 'scheduler = "StepLR"'), name="steplr2.toml")
    with pytest.raises(CaseError):
        cases.load_cases(tmp_path)  # steplr2.toml's ids must start with 'steplr2/' - and would duplicate


def test_duplicate_id_in_one_file(tmp_path):
    with pytest.raises(CaseError, match="duplicate id"):
        cases.load_cases(write(tmp_path, GOOD + '\n[[case]]\nid = "steplr/a"\nwhy = "again"\n'))


def test_id_must_match_file(tmp_path):
    with pytest.raises(CaseError, match="must start with 'steplr/'"):
        cases.load_cases(write(tmp_path, GOOD.replace("steplr/a", "other/a")))


def test_invalid_toml_is_one_line(tmp_path):
    with pytest.raises(CaseError, match="invalid TOML"):
        cases.load_cases(write(tmp_path, "[[case]\n"))


def test_select_filters():
    loaded = cases.load_cases()
    assert all(c.id.startswith("steplr/") for c in cases.select(loaded, ["steplr/*"]))
    assert all("StepLR" in c.schedulers for c in cases.select(loaded, schedulers=["steplr"]))
