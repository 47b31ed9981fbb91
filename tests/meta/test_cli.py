"""The command line, in-process: exit codes and one-line errors."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main

ROOT = Path(__file__).resolve().parents[2]


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


# --- values and paths refused before anything runs -----------------------------------------------------------

CASE = "steplr/gamma-half-step3"


@pytest.mark.parametrize(
    "options, lines",
    [
        (["--rtol", "nan"], ["--rtol nan: must be a finite number >= 0"]),
        (["--rtol", "-1"], ["--rtol -1: must be a finite number >= 0"]),
        (["--rtol", "inf"], ["--rtol inf: must be a finite number >= 0"]),
        (["--atol=-1e-9"], ["--atol -1e-09: must be a finite number >= 0"]),
        (["--timeout", "inf"], ["--timeout inf: must be a positive, finite number of seconds"]),
        (["--timeout", "nan"], ["--timeout nan: must be a positive, finite number of seconds"]),
        (["--timeout", "-3"], ["--timeout -3: must be a positive, finite number of seconds"]),
        (["--rtol", "nan", "--atol", "inf", "--timeout", "0"],  # all at once, one line each
         ["--rtol nan", "--atol inf", "--timeout 0"]),
    ],
)
def test_bad_numbers_are_refused_one_line_each(capsys, options, lines):
    assert main(["run", "-k", CASE, *options]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == len(lines) and captured.out == "", err
    for line, fragment in zip(err, lines):
        assert line.startswith("lr-conformance: ") and fragment in line, line


def test_a_value_argparse_cannot_read_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--rtol", "abc"])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--rtol: invalid float value: 'abc'" in line


@pytest.mark.parametrize("option", ["--json", "--report"])
def test_an_output_whose_directory_is_missing_is_refused_before_running(tmp_path, capsys, option):
    target = tmp_path / "missing" / "deeper" / ("out.json" if option == "--json" else "out.html")
    assert main(["run", "-k", CASE, option, str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "[1/1]" not in captured.err  # nothing ran
    (line,) = captured.err.strip().splitlines()
    assert f"{option} {target}: directory" in line and "does not exist" in line
    assert not (tmp_path / "missing").exists()  # and nothing was created


def test_an_output_under_a_file_or_onto_a_directory_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    (tmp_path / "dir.html").mkdir()
    assert main(["run", "-k", CASE, "--json", str(blocker / "x.json"), "--report", str(tmp_path / "dir.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lr-conformance: --json {blocker / 'x.json'}: {str(blocker)!r} is not a directory",
                   f"lr-conformance: --report {tmp_path / 'dir.html'}: is a directory"]


def test_report_outputs_are_checked_before_reading(tmp_path, capsys):
    assert main(["report", "no-such.json", "--html", str(tmp_path / "missing" / "r.html")]) == 2
    assert "directory" in capsys.readouterr().err and not (tmp_path / "missing").exists()


# --- -k ------------------------------------------------------------------------------------------------------


def ids(*patterns):
    from conformance import cases

    return [c.id for c in cases.select(cases.load_cases(), patterns)]


def test_k_matches_substrings_unless_it_has_glob_characters():
    assert ids("cosine") and all("cosine" in i for i in ids("cosine"))
    assert "cosineannealinglr/tmax-10" in ids("cosine") and "cosineannealingwarmrestarts/t0-5" in ids("cosine")
    assert ids("Cosine") == ids("cosine")
    assert ids("steplr/*") == [i for i in ids("steplr/") if i.startswith("steplr/")]
    assert "multisteplr/default-gamma" in ids("steplr/") and "multisteplr/default-gamma" not in ids("steplr/*")
    assert ids("cosine") != ids("cosine*") == [i for i in ids("cosine") if i.startswith("cosine")]


def test_k_with_a_full_id_selects_that_case_alone():
    assert ids("steplr/default-gamma") == ["steplr/default-gamma"]  # not multisteplr/default-gamma too
    assert ids("cycliclr/triangular") == ["cycliclr/triangular"]  # not cycliclr/triangular2


def test_no_match_says_what_was_tried_and_what_comes_close(capsys):
    assert main(["list", "-k", "gama-half"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "-k 'gama-half' matches none" in line and "steplr/gamma-half-step3" in line and "substring" in line
    assert main(["run", "--tag", "resme"]) == 2
    assert "--tag 'resme' matches none (close: resume" in capsys.readouterr().err
    assert main(["list", "-k", "steplr", "--scheduler", "OneCycleLR"]) == 2
    from conformance import cases

    both = len(ids("steplr")), len(cases.select(cases.load_cases(), schedulers=["OneCycleLR"]))
    assert (f"no case matches every filter at once (-k 'steplr' {both[0]}, --scheduler 'OneCycleLR' {both[1]} cases "
            "separately)") in capsys.readouterr().err


# --- list and show -------------------------------------------------------------------------------------------


def test_list_columns_align_when_a_case_has_a_torch_range(capsys, monkeypatch):
    import dataclasses

    from conformance import cases

    # No shipped case needs a torch range any more (every case runs on every release): give one a range here.
    real = cases.load_cases()
    ranged = [dataclasses.replace(c, torch=">=2.4") if c.id == CASE else c for c in real]
    monkeypatch.setattr(cases, "load_cases", lambda *a, **k: ranged)
    assert main(["list", "--scheduler", "StepLR"]) == 0
    lines = capsys.readouterr().out.splitlines()
    chosen = cases.select(ranged, schedulers=["StepLR"])
    assert any(c.torch for c in chosen) and any(not c.torch for c in chosen)
    assert len({line.index(c.why) for line, c in zip(lines, chosen)}) == 1  # every why in the same column
    assert len({line.index(f" torch{c.torch} ") for line, c in zip(lines, chosen) if c.torch}) == 1


def test_show_prints_a_csv_that_diffs_cleanly_against_the_golden(capsys):
    assert main(["show", "-k", CASE]) == 0
    captured = capsys.readouterr()
    assert captured.out == (ROOT / "golden" / "traces" / f"{CASE}.csv").read_text()
    assert f"# {CASE}: the textbook StepLR" in captured.err


def test_show_an_unsupported_case_says_so_instead_of_an_error_event(capsys):
    tinysched = str(ROOT / "examples" / "tinysched" / "adapter.py")
    assert main(["show", "--adapter", tinysched, "-k", "constantlr/defaults"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "construct:error" not in captured.err
    assert "constantlr/defaults: unsupported: needs scheduler:ConstantLR" in captured.err


TINYSCHED = str(ROOT / "examples" / "tinysched" / "adapter.py")  # observes no last_lr, records no warnings


def test_show_diff_compares_only_what_the_adapter_observes(capsys):
    """An adapter without the `last_lr` observable printed an empty column, so `show | diff` differed on every
    row: `show --diff` leaves the column out, and a case that passes shows no difference."""
    assert main(["show", "--diff", "--adapter", TINYSCHED, "-k", CASE]) == 0
    out = capsys.readouterr().out
    header, *rows = [line for line in out.splitlines() if not line.startswith("#")]
    assert header.split() == ["step", "group", "lr", "golden", "lr", "tinysched"], header
    assert "not compared: last_lr" in out
    assert rows and not any(line.startswith(">") for line in rows), out


def test_show_diff_marks_exactly_the_rows_that_differ(capsys, monkeypatch):
    monkeypatch.setenv("TINYSCHED_BUG", "1")
    assert main(["show", "--diff", "--adapter", TINYSCHED, "-k", CASE]) == 1
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if not line.startswith("#")][1:]
    marked = [row[1:] for row in rows if row[0] == ">"]
    unmarked = [row for row in rows if row[0] != ">"]
    assert marked and all(golden != actual for _, _, golden, actual in marked), marked
    assert unmarked and all(golden == actual for _, _, golden, actual in unmarked), unmarked


def test_show_says_which_golden_columns_the_adapter_leaves_empty(capsys):
    assert main(["show", "--adapter", TINYSCHED, "-k", CASE]) == 0
    assert "tinysched does not observe last_lr" in capsys.readouterr().err


def test_show_and_run_import_no_torch_for_an_adapter_that_uses_none(tmp_path):
    """torch is the reference adapter's business: with a `torch` that cannot be imported first on the path,
    `show`, `show --diff` and `run` still work for an adapter that does not use it."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('torch was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    for command in (["show"], ["show", "--diff"], ["run", "-q"]):
        done = subprocess.run([sys.executable, "-m", "conformance", *command, "--adapter", TINYSCHED, "-k", CASE],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "torch was imported" not in done.stderr, (command, done.stderr)


@pytest.mark.parametrize("command", [["export"], ["show", "-k", "*"]])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_141(command):
    """`lr-conformance export | head`: once the reader closes the pipe, the command stops with 141 (what a
    shell reports for a process killed by SIGPIPE) and no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "conformance", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, bufsize=0)
    process.stdout.read(1)
    process.stdout.close()  # the reader goes away with nearly all of the output unread
    code = process.wait(timeout=120)
    stderr = process.stderr.read().decode()
    assert code == 141, stderr
    assert "Traceback" not in stderr, stderr


def test_an_expectations_id_that_names_no_case_is_refused_before_grading_with_its_line(tmp_path, capsys):
    """A typo in an expectations file would otherwise expect nothing, silently: it is exit 2, one line per
    unknown id naming the file and line, with the nearest case id."""
    listed = tmp_path / "expectations.toml"
    listed.write_text('[[differs]]\nid = "steplr/gamma-half-step3"\nreason = "known"\n\n'
                      '[[differs]]\nid = "steplr/gamma-half-step"\nreason = "a typo"\n\n'
                      '[[differs]]\nid = "nosuch/case"\nreason = "gone"\n', encoding="utf-8")
    code = main(["run", "--expectations", str(listed), "-k", "steplr/*"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [
        f"lr-conformance: {listed}:6: [[differs]] id 'steplr/gamma-half-step' names no case of the suite; "
        "did you mean 'steplr/gamma-half-step3'?",
        f"lr-conformance: {listed}:10: [[differs]] id 'nosuch/case' names no case of the suite",
    ]


def test_check_lints_the_shipped_expectations_files(monkeypatch, tmp_path, capsys):
    from conformance import resources

    shipped = tmp_path / "expectations"
    shipped.mkdir()
    (shipped / "mylib.toml").write_text('[[differs]]\nid = "steplr/renamed"\nreason = "x"\n', encoding="utf-8")
    monkeypatch.setattr(resources, "EXPECTATIONS_DIR", shipped)
    code = main(["check"])
    out = capsys.readouterr().out
    assert code == 2
    assert f"{shipped / 'mylib.toml'}:2: [[differs]] id 'steplr/renamed' names no case of the suite" in out


# --- help texts ---------------------------------------------------------------------------------------------


def _help(capsys, *command) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width


def test_the_top_level_help_describes_every_command(capsys):
    from conformance.cli import COMMANDS

    description = _help(capsys).partition("Commands: ")[2].partition(".")[0]
    assert description.split(", ") == list(COMMANDS), description  # `fuzz` was left out once


def test_every_command_has_a_description_in_its_own_help(capsys):
    """`check --help` and `adapters --help` printed only their options."""
    from conformance.cli import COMMANDS, build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == set(COMMANDS)
    assert not [name for name, command in commands.items() if not command.description]
    for name in ("check", "adapters"):
        assert commands[name].description.split()[0] in _help(capsys, name)


def test_run_help_names_the_command_that_shows_the_shipped_expectations(capsys):
    assert "(`lr-conformance adapters` shows them)" in _help(capsys, "run")  # each line names its own, tested in
    # test_adapter_names.py, importable or not
