"""The command line, in-process: exit codes and one-line errors."""

import pytest

from conformance.cli import main


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("nosuchname", "not an entry point"),
        ("nosuchmodule_xyz:Thing", "cannot import module 'nosuchmodule_xyz'"),
        ("conformance.model:Nope", "has no attribute 'Nope'"),
        ("missing/adapter.py", "no such file"),
        ("conformance.model:Case", "constructing it raised"),
        ("cmd:", "needs a command line"),
    ],
)
def test_bad_adapter_string_is_one_line_exit_2(capsys, spec, fragment):
    assert main(["run", "--adapter", spec, "-k", "steplr/*"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lr-conformance: --adapter") and fragment in err and "\n" not in err, err


def test_no_matching_case_is_a_usage_error(capsys):
    assert main(["list", "-k", "no-such-case/*"]) == 2
    assert "no case matches" in capsys.readouterr().err


def test_run_a_subset_passes_and_writes_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["run", "-k", "steplr/*", "--json", str(out)]) == 0
    assert '"ok": true' in out.read_text()
    assert "OK" in capsys.readouterr().out


def test_list_prints_every_selected_case(capsys):
    assert main(["list", "-k", "steplr/*"]) == 0
    assert all(line.startswith("steplr/") for line in capsys.readouterr().out.splitlines())
