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


def test_markdown_report_links_plot_files(failing_result, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sub" / "report.md"
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
