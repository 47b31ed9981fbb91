"""`lr-conformance site --results`: the user's own results beside the shipped ones (issue 20, item 10), what
was loaded from where said on stderr, and hostile or colliding result and expectations files refused in one
line naming the file, exit 2 - never a traceback (issue 23)."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

from site_helpers import CHANGES_FIXTURE, RESULTS  # noqa: E402

from conformance import resources  # noqa: E402
from conformance.cli import main  # noqa: E402
from conformance.site import Sources, plots  # noqa: E402

pytestmark = pytest.mark.release_independent

SHIPPED = sorted(p.stem for p in RESULTS.glob("*.json"))


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """The pages and messages are the point here: drawing 800 plots per build would only cost minutes."""
    monkeypatch.setattr(plots, "render", lambda jobs, processes: 0)


def build(tmp_path, capsys, *argv: str) -> tuple[int, list[str], object]:
    """Run `site OUT ARGV...`: (exit code, stderr lines, OUT)."""
    out = tmp_path / "out"
    code = main(["site", str(out), "--changes", str(CHANGES_FIXTURE), *argv])
    return code, capsys.readouterr().err.splitlines(), out


def my_result(tmp_path, name: str = "mylib", version: str = "9.9", file: str | None = None):
    """A user's result: the shipped timm result under another adapter name (what a library author's
    `run --json` would write, graded on the same cases)."""
    document = json.loads((RESULTS / "timm.json").read_text(encoding="utf-8"))
    document["variant"] = None
    document["library"] = None
    document["adapter"] = {**document["adapter"], "name": name, "version": version}
    path = tmp_path / "mine" / f"{file or name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def matrix_columns(out) -> list[str]:
    index = (out / "index.html").read_text(encoding="utf-8")
    return [line.split('data-variant="')[1].split('"')[0] for line in index.split("<td")
            if 'data-scheduler="*"' in line]


def test_the_suite_reads_its_shipped_results_where_resources_says():
    sources = Sources.checkout()
    assert sources.results == resources.RESULTS_DIR and sources.matrix.parent == resources.MATRIX_DIR
    assert sorted(p.stem for p in sources.results.glob("*.json")) == SHIPPED and SHIPPED


def test_your_result_is_shown_beside_the_shipped_ones_and_stderr_says_so(tmp_path, capsys):
    mine = my_result(tmp_path)
    code, err, out = build(tmp_path, capsys, "--results", str(mine))
    assert code == 0, err
    assert matrix_columns(out) == ["mylib", *SHIPPED]  # yours first
    loaded = [line for line in err if line.startswith("site: results: ")]
    assert loaded[0] == f"site: results: {len(SHIPPED)} shipped result(s) from docs/results: {', '.join(SHIPPED)}"
    assert loaded[1] == f"site: results: 1 of your results from {mine}: mylib"
    assert "yours</span>" in (out / "index.html").read_text(encoding="utf-8")
    assert (out / "libraries" / "mylib.html").is_file() and (out / "badges" / "mylib.json").is_file()


def test_a_directory_of_your_results_is_read_whole(tmp_path, capsys):
    my_result(tmp_path, "lib-a")
    mine = my_result(tmp_path, "lib-b").parent
    code, err, out = build(tmp_path, capsys, "--results", str(mine))
    assert code == 0, err
    assert matrix_columns(out) == ["lib-a", "lib-b", *SHIPPED]
    assert f"site: results: 2 of your results from {mine}: lib-a, lib-b" in err


def test_your_result_replaces_the_shipped_one_of_the_same_name_and_says_so(tmp_path, capsys):
    mine = my_result(tmp_path, "timm", version="0.0.0-mine")
    code, err, out = build(tmp_path, capsys, "--results", str(mine))
    assert code == 0, err
    assert matrix_columns(out) == ["timm", *(s for s in SHIPPED if s != "timm")]
    assert f"site: results: timm: yours ({mine}) replaces the shipped docs/results/timm.json" in err
    assert "0.0.0-mine" in (out / "libraries" / "timm.html").read_text(encoding="utf-8")


def test_results_only_shows_yours_alone(tmp_path, capsys):
    mine = my_result(tmp_path)
    code, err, out = build(tmp_path, capsys, "--results", str(mine), "--results-only")
    assert code == 0, err
    assert matrix_columns(out) == ["mylib"]
    assert "site: results: shipped results not shown (--results-only)" in err


def test_missing_shipped_results_are_said(tmp_path, capsys, monkeypatch):
    """A wheel or checkout without docs/results must not build a matrix of nothing without a word."""
    from conformance.site import data

    monkeypatch.setattr(data.resources, "RESULTS_DIR", tmp_path / "nowhere")
    code, err, out = build(tmp_path, capsys)
    assert code == 0, err
    assert f"site: results: no shipped results: {tmp_path / 'nowhere'} does not exist" in err
    assert "No library results to show" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, message", [
    (["--results", "no/such.json"], "--results no/such.json: no such file or directory"),
    (["--results-only"], "--results-only: give the results to show with --results PATH"),
])
def test_bad_results_options_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    code, err, out = build(tmp_path, capsys, *argv)
    assert (code, err) == (2, [f"lr-conformance: {message}"]) and not out.exists()


def test_two_of_your_results_with_one_name_are_refused_naming_both(tmp_path, capsys):
    """Two `cmd:` children that both call themselves torch: one page and one badge would hide one of them."""
    first = my_result(tmp_path, "torch", file="first")
    second = my_result(tmp_path, "torch", file="second")
    code, err, out = build(tmp_path, capsys, "--results", str(first), "--results", str(second))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"lr-conformance: {second}: grades 'torch', the same name as {first}: ")
    assert not out.exists()


def test_names_that_make_one_file_name_are_refused_too(tmp_path, capsys):
    first = my_result(tmp_path, "my lib", file="a")
    second = my_result(tmp_path, "my/lib", file="b")
    code, err, _ = build(tmp_path, capsys, "--results", str(first.parent))
    assert code == 2 and len(err) == 1, err
    assert f"{second}: grades 'my/lib', names that make one file name ('my lib') as {first}" in err[0]


def _mutate(path, edit) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    edit(document)
    path.write_text(json.dumps(document), encoding="utf-8")


HOSTILE_RESULTS = {
    "a list where the document belongs": lambda p: p.write_text("[1, 2]"),
    "a list where the adapter belongs": lambda p: _mutate(p, lambda d: d.update(adapter=["timm"])),
    "an object where the results belong": lambda p: _mutate(p, lambda d: d.update(results={"a": 1})),
    "a list id": lambda p: _mutate(p, lambda d: d["results"][0].update(id=["steplr/x"])),
    "a non-string detail": lambda p: _mutate(p, lambda d: d["results"][0].update(detail={"x": 1})),
    "a string tolerance": lambda p: _mutate(p, lambda d: d["adapter"]["tolerance"].update(rel="inf")),
    "a non-integer count": lambda p: _mutate(p, lambda d: d["counts"].update(passed="many")),
    "an unknown status": lambda p: _mutate(p, lambda d: d["results"][0].update(status="great")),
    "non-UTF-8 bytes": lambda p: p.write_bytes(b'{"schema": "\xff\xfe"}'),
    "a truncated file": lambda p: p.write_text(p.read_text()[:1000]),
    "a directory": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("corruption", sorted(HOSTILE_RESULTS))
def test_a_hostile_result_file_is_one_line_naming_it_and_exit_2(tmp_path, capsys, corruption):
    mine = my_result(tmp_path)
    HOSTILE_RESULTS[corruption](mine)
    code, err, out = build(tmp_path, capsys, "--results", str(mine.parent))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"lr-conformance: {mine}: ") and "Traceback" not in err[0], err
    assert not out.exists()


HOSTILE_EXPECTATIONS = {
    "a non-string reason": ('[[differs]]\nid = "steplr/gamma-one"\nreason = 5\n', "'reason' must be a string"),
    "a non-string link": ('[[differs]]\nid = "steplr/gamma-one"\nreason = "r"\nlink = ["x"]\n',
                          "'link' must be a string"),
    "a list id": ('[[differs]]\nid = ["steplr/gamma-one"]\nreason = "r"\n', "'id' must be a string"),
    "a table where the array belongs": ('[differs]\nid = "steplr/gamma-one"\n', "must be [[differs]] tables"),
    "non-UTF-8 bytes": (b'\xff[[differs]]\n', "not UTF-8 text"),
    "a directory": (None, "cannot read"),
}


@pytest.mark.parametrize("corruption", sorted(HOSTILE_EXPECTATIONS))
def test_a_hostile_expectations_file_beside_your_result_is_one_line_and_exit_2(tmp_path, capsys, corruption):
    mine = my_result(tmp_path)
    content, message = HOSTILE_EXPECTATIONS[corruption]
    expectations = mine.with_suffix(".toml")
    if content is None:
        expectations.mkdir()
    elif isinstance(content, bytes):
        expectations.write_bytes(content)
    else:
        expectations.write_text(content, encoding="utf-8")
    code, err, _ = build(tmp_path, capsys, "--results", str(mine))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"lr-conformance: {expectations}:") and message in err[0], err


def test_an_expectations_file_beside_your_result_gives_its_reasons(tmp_path, capsys):
    mine = my_result(tmp_path)
    document = json.loads(mine.read_text(encoding="utf-8"))
    differing = next(r["id"] for r in document["results"] if r["status"] == "xfail")
    mine.with_suffix(".toml").write_text(f'[[differs]]\nid = "{differing}"\nreason = "mylib rounds <early>"\n')
    code, err, out = build(tmp_path, capsys, "--results", str(mine))
    assert code == 0, err
    assert "mylib rounds &lt;early&gt;" in (out / "cases" / f"{differing}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("corruption", ["a list where the document belongs", "a list id", "non-UTF-8 bytes",
                                        "a directory", "a truncated file"])
def test_report_refuses_a_hostile_result_in_one_line(tmp_path, capsys, corruption):
    result = tmp_path / "result.json"
    shutil.copy(RESULTS / "timm.json", result)
    _mutate(result, lambda d: d.update(schema="lr-conformance/result/1"))
    HOSTILE_RESULTS[corruption](result)
    assert main(["report", str(result)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"lr-conformance: {result}: "), err


@pytest.mark.parametrize("corruption", sorted(HOSTILE_EXPECTATIONS))
def test_run_refuses_the_same_hostile_expectations_in_one_line(tmp_path, capsys, corruption):
    """The site and `run --expectations` read expectations with one loader: neither prints a traceback."""
    content, message = HOSTILE_EXPECTATIONS[corruption]
    expectations = tmp_path / "mine.toml"
    if content is None:
        expectations.mkdir()
    elif isinstance(content, bytes):
        expectations.write_bytes(content)
    else:
        expectations.write_text(content, encoding="utf-8")
    assert main(["run", "-k", "steplr/gamma-one", "--expectations", str(expectations), "-q"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"lr-conformance: {expectations}:") and message in err[0], err


def test_a_site_built_from_anywhere_names_files_as_the_suite_does(tmp_path, monkeypatch):
    """A site is published: its pages name the case files as golden/cases/<file>.toml (as they name the
    goldens golden/traces/...), never a path of the machine that built it - from a wheel that was the
    builder's site-packages, from a checkout run elsewhere its absolute path (outsider pass of issue 20)."""
    from dataclasses import replace

    from conformance.site import data, pages

    monkeypatch.chdir(tmp_path)  # not the checkout: messages would name the files by their absolute paths
    site = data.load(replace(Sources.checkout(), results=None, changes=CHANGES_FIXTURE))
    plan = pages.plan(site)
    page = plan.pages[pages.case_path("steplr/gamma-half-step3")]
    assert "As written in <code>golden/cases/steplr.toml</code>" in page
    assert "# defined in golden/cases/steplr.toml" in page
    builder = str(resources.CASES_DIR.parent.parent)
    assert not [path for path, html in plan.pages.items() if builder in html]
