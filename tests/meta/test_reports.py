"""The result document (schema-valid, with traces and reproductions of divergent cases) and every view
rendered from it: --format, --report .md/.html with plots, and `lr-conformance report` on a saved file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from conformance import report
from conformance.cli import main

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
FAKES = Path(__file__).parent / "fakes" / "broken_torch.py"
CASE = "steplr/gamma-half-step3"
PNG = b"\x89PNG\r\n\x1a\n"


def schema_validator(name: str):
    from referencing import Registry, Resource

    schemas = {n: json.loads((ROOT / "schemas" / f"{n}.schema.json").read_text()) for n in ("protocol", "result")}
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return jsonschema.Draft202012Validator(schemas[name], registry=registry)


@pytest.fixture(scope="module")
def failing_result(tmp_path_factory):
    """A real result file: a fake returning nan from step 2, graded on two committed steplr cases."""
    out = tmp_path_factory.mktemp("result") / "result.json"
    code = main(["run", "--adapter", f"{FAKES}:ReturnsNaN", "-k", CASE, "-k", "steplr/step-size-zero",
                 "--json", str(out), "--format", "json"])
    assert code == 1
    return out


def test_result_file_follows_its_schema(failing_result):
    document = json.loads(failing_result.read_text())
    schema_validator("result").validate(document)
    failed = next(r for r in document["results"] if r["id"] == CASE)
    assert failed["status"] == "fail" and failed["divergence"]["actual"] == "nan"
    assert failed["traces"]["actual"]["observations"][2][2] == "nan"
    assert "lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)" in failed["snippet"]
    passed = next(r for r in document["results"] if r["status"] == "pass")
    assert "traces" not in passed and "snippet" not in passed


def test_format_json_prints_the_document(failing_result, capsys):
    main(["report", str(failing_result), "--format", "json"])
    assert json.loads(capsys.readouterr().out) == json.loads(failing_result.read_text())


def test_terminal_summary_shows_the_values_around_the_divergence(failing_result):
    text = report.terminal_summary(json.loads(failing_result.read_text()), verbose=True)
    assert ">    2  0.1                       nan" in text
    assert "torch:" in text and "scheduler = lr_scheduler.StepLR" in text


def test_html_report_is_self_contained_with_a_plot(failing_result, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report.html"
    assert main(["report", str(failing_result), "--html", str(out)]) == 0
    page = out.read_text()
    assert CASE in page and "NOT CONFORMANT" in page and "torch reproduction" in page
    assert not any(tag in page for tag in ("<script", "<link", "src='http", 'src="http'))  # nothing external
    (encoded,) = [chunk.split("'")[0] for chunk in page.split("data:image/png;base64,")[1:]]
    assert base64.b64decode(encoded).startswith(PNG)
    assert "wrote" in capsys.readouterr().err


def test_html_report_writes_control_characters_as_their_escape(failing_result):
    """A recorded message can hold a character no HTML page may (torch >= 2.5's weights_only refusal bolds a
    phrase with ESC [1m): the report shows it as the Python escape, as the site does, and stays well-formed."""
    from conformance import htmlreport

    document = json.loads(failing_result.read_text())
    failed = next(r for r in document["results"] if r["id"] == CASE)
    failed["why"] = "a \x1b[1mbold\x1b[0m phrase, a NUL \x00, DEL \x7f, a C1 \x85; tab\tand newline\nkept"
    page = htmlreport.to_html(document, plots=False)
    assert "a \\x1b[1mbold\\x1b[0m phrase, a NUL \\x00, DEL \\x7f, a C1 \\x85; tab\tand newline\nkept" in page
    assert not [c for c in page if (ord(c) < 32 and c not in "\t\n\r") or 0x7f <= ord(c) <= 0x9f]


def test_markdown_report_links_plot_files(failing_result, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sub" / "report.md"
    out.parent.mkdir()
    assert main(["report", str(failing_result), "--md", str(out)]) == 0
    text = out.read_text()
    image = out.parent / "report_plots" / "steplr-gamma-half-step3.png"
    assert f"](report_plots/{image.name})" in text and image.read_bytes().startswith(PNG)
    assert "| **2** | 0 | 0.1 | nan |" in text


def test_run_writes_report_and_prints_markdown(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["run", "-k", CASE, "--report", str(out), "--format", "markdown"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# lr-conformance: torch") and "**OK" in printed
    assert out.exists() and "data:image/png" not in out.read_text()  # nothing diverged, nothing plotted


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "-k", CASE, "--report", "out.txt"], "--report out.txt: the extension picks the format"),
        (["run", "-k", CASE, "--timeout", "0"], "--timeout 0: must be a positive"),
        (["report", "no/such/result.json"], "no such result file"),
        (["report", str(ROOT / "pyproject.toml")], "not a JSON result file"),
        (["report", str(ROOT / "golden" / "traces" / "manifest.json")], "not an lr-conformance result"),
    ],
)
def test_bad_report_options_are_one_line_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lr-conformance: ") and fragment in err and "\n" not in err, err


# --- a result file that is not one ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda d: d.pop("results"), "'results' is a required property"),
        (lambda d: d["results"][0].pop("why"), "at results/0: 'why' is a required property"),
        (lambda d: d.update(seconds="soon"), "at seconds: 'soon' is not of type 'number'"),
        (lambda d: d["results"][0].update(status="great"), "at results/0/status: 'great' is not one of"),
        (lambda d: d.update(results={"a": 1}), "at results: {'a': 1} is not of type 'array'"),
    ],
)
def test_report_on_a_damaged_result_is_one_line_exit_2(failing_result, tmp_path, capsys, damage, fragment):
    document = json.loads(failing_result.read_text())
    damage(document)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    assert main(["report", str(broken)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"lr-conformance: {broken}: not a valid lr-conformance result") and fragment in line, line
    assert captured.out == ""


# --- the tolerance applied, and the time ---------------------------------------------------------------------

TINYSCHED = str(ROOT / "examples" / "tinysched" / "adapter.py")
FAULTS = Path(__file__).parent / "fakes" / "faults.py"


def test_the_tolerance_applied_and_its_source_are_recorded(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["run", "--adapter", TINYSCHED, "-k", CASE, "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    schema_validator("result").validate(document)
    tolerance = document["tolerance"]
    assert (tolerance["rel"], tolerance["abs"], tolerance["source"]) == (1e-10, 1e-12, "adapter")
    assert "goldens, tolerance rel 1e-10, abs 1e-12 (adapter): 1 pass" in capsys.readouterr().out

    assert main(["run", "--adapter", TINYSCHED, "-k", CASE, "--json", str(out), "--rtol", "1e-6"]) == 0
    document = json.loads(out.read_text())
    schema_validator("result").validate(document)
    assert document["tolerance"] == {"rel": 1e-6, "abs": 0.0, "reason": "set on the command line (--rtol/--atol)",
                                     "source": "--rtol/--atol"}
    assert document["adapter"]["tolerance"]["rel"] == 1e-10  # the adapter's own declaration, kept apart
    summary = capsys.readouterr().out
    assert "goldens, tolerance rel 1e-06, abs 0 (--rtol/--atol): 1 pass" in summary
    assert main(["report", str(out), "--format", "markdown"]) == 0
    assert "- tolerance: rel 1e-06, abs 0 (--rtol/--atol)" in capsys.readouterr().out


def test_the_summary_time_is_the_runs_wall_time(tmp_path):
    """An adapter that takes 0.5 s to load and no time per case: the time reported includes the loading."""
    out = tmp_path / "result.json"
    assert main(["run", "--adapter", f"{FAULTS}:SlowToLoad", "-k", CASE, "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["seconds"] >= 0.5 > sum(r["seconds"] for r in document["results"])


# --- the first divergence and the first large one, in every view ---------------------------------------------


def test_the_first_large_difference_is_in_every_view(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out, md, page = tmp_path / "result.json", tmp_path / "report.md", tmp_path / "report.html"
    assert main(["run", "--adapter", f"{FAULTS}:DriftsThenJumps", "-k", CASE, "--json", str(out), "--report", str(md)]) == 1
    terminal = capsys.readouterr().out
    assert main(["report", str(out), "--html", str(page)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    schema_validator("result").validate(json.loads(out.read_text()))
    d = result["divergence"]
    assert (d["step"], d["ulps"]) == (1, 1) and (d["first_large"]["step"], d["first_large"]["actual"]) == (8, 0.05)
    assert "first large difference: step 8 group 0 lr: expected 0.025, got 0.05" in result["detail"]
    assert result["detail"] in terminal
    assert "            large:   step" in terminal and ">    8  0.025                     0.05" in terminal
    assert "Around the first large difference" in md.read_text() and "| **8** | 0 | 0.025 | 0.05 |" in md.read_text()
    assert "Around the first large difference" in page.read_text()


# --- rerun lines reproduce the grading ----------------------------------------------------------------------


def test_reproduce_command_repeats_every_option_that_changes_the_grading():
    command = report.reproduce_command("steplr/x", "my adapter.py", expectations="exp/t.toml", rtol=1e-6,
                                       atol=0.0, isolate=True, timeout=5)
    assert command == ("lr-conformance run --adapter 'my adapter.py' --expectations exp/t.toml --rtol 1e-06 "
                       "--atol 0.0 --timeout 5 --isolate -k 'steplr/x' -v")
    assert report.reproduce_command("steplr/x", "torch") == "lr-conformance run -k 'steplr/x' -v"


@pytest.mark.parametrize("bug", ["1", ""])
def test_every_rerun_line_reproduces_the_same_grading(tmp_path, monkeypatch, capsys, bug):
    import shlex

    monkeypatch.setenv("TINYSCHED_BUG", bug)  # with the bug: fail and xfail; without: xpass
    expectations = ROOT / "examples" / "tinysched" / "expectations.toml"
    out = tmp_path / "result.json"
    main(["run", "--adapter", TINYSCHED, "--expectations", str(expectations), "--rtol", "0", "--atol", "0",
          "-k", CASE, "-k", "steplr/default-gamma", "-k", "cosineannealinglr/tmax-10", "--json", str(out)])
    results = json.loads(out.read_text())["results"]
    assert {r["status"] for r in results} == ({"fail", "xfail"} if bug else {"pass", "fail", "xpass"})
    for r in results:
        argv = shlex.split(r["reproduce"])
        assert argv[:2] == ["lr-conformance", "run"]
        again = tmp_path / "again.json"
        main([*argv[1:], "--json", str(again)])
        (rerun,) = json.loads(again.read_text())["results"]
        assert (rerun["id"], rerun["status"], rerun["detail"]) == (r["id"], r["status"], r["detail"])
    capsys.readouterr()
