"""Issue 23's data and names spot checks, each as the user meets it: through the command line on a scratch copy
of the goldens (never golden/), one line naming the file and line (or the argument), and the documented exit
code (2: a data problem found before anything is graded or written). Then markup from every source a report
or the site shows - a case's `why`, and everything an adapter supplies (name, version, an error, an Unsupported
reason, a warning's message) - stays text in the HTML report and the site."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fakes import hostile_text
from test_golden_cli import CASES, FAKE, make_goldens, point_at

from conformance import cli, golden

ID_B, ID_C = 13, 18  # the lines of steplr/b's and steplr/c's ids in CASES


@pytest.fixture
def scratch(tmp_path):
    return make_goldens(tmp_path)


@pytest.fixture
def main_on(scratch, monkeypatch, capsys):
    """cli.main(args) on the scratch copy, in process: (exit code, stdout + stderr)."""
    point_at(scratch, monkeypatch.setattr)

    def run(*args: str):
        code = cli.main(list(args))
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.out + captured.err
    return run


def problem_lines(text: str) -> list[str]:
    """The lines naming a problem: everything but check's closing count."""
    return [line.removeprefix("lr-conformance: ") for line in text.splitlines() if not line.startswith("check: ")]


def edit_cases(scratch: Path, old: str, new: str) -> None:
    path = scratch / "cases" / "steplr.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


COMMANDS = [["check"], ["run", "--adapter", FAKE], ["list"]]


# --- names: an id is a slug, once ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bad_id", ["steplr/../../etc/passwd", "/etc/passwd", "steplr/<script>alert(1)</script>",
                                    'steplr/a" onmouseover="x'])
def test_an_id_that_is_not_a_slug_is_refused_naming_its_line(scratch, main_on, command, bad_id):
    edit_cases(scratch, 'id = "steplr/b"', f"id = {json.dumps(bad_id)}")
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2, text
    assert f"steplr.toml:{ID_B}: " in line and f"id {bad_id!r} is not a slug" in line, line


def test_a_duplicate_id_names_the_line_of_the_duplicate_and_of_the_first(scratch, main_on):
    edit_cases(scratch, 'id = "steplr/b"', 'id = "steplr/a"')
    code, text = main_on("check")
    (line,) = problem_lines(text)
    assert code == 2 and f"steplr.toml:{ID_B}: steplr/a: duplicate id" in line and "steplr.toml:9" in line, line


@pytest.mark.parametrize("command", COMMANDS)
def test_a_duplicate_id_is_one_line_exit_2(scratch, main_on, command):
    edit_cases(scratch, 'id = "steplr/b"', 'id = "steplr/a"')
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2 and "steplr.toml:" in line and "steplr/a: duplicate id, first defined in" in line, line


# --- data: steps, TOML ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("steps, message", [
    ('"ten"', "'steps' must be a positive integer"),
    ("-3", "'steps' must be a positive integer"),
    ("1000000000", "'steps' = 1000000000 is over the limit of 10000 (MAX_STEPS)"),
    ("6.5", "'steps' must be a positive integer"),
    ("true", "'steps' must be a positive integer"),
])
def test_bad_steps_are_one_line_naming_the_case_and_its_line(scratch, main_on, command, steps, message):
    edit_cases(scratch, "steps = 6", f"steps = {steps}")
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2 and f"steplr.toml:{ID_C}: steplr/c: {message}" in line, line


@pytest.mark.parametrize("command", COMMANDS)
def test_invalid_toml_names_the_file_and_the_line(scratch, main_on, command):
    edit_cases(scratch, 'id = "steplr/c"', 'id = "steplr/c')  # an unterminated string on line 18
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2 and "steplr.toml: invalid TOML: " in line and f"(at line {ID_C}," in line, line


# --- goldens: edited under the manifest's hash, a BOM, cut short ---------------------------------------------

def rehash(scratch: Path, rel: str) -> None:
    """Make the manifest agree with the file's new bytes (what a careful hand-editor would do)."""
    path = scratch / "traces" / golden.MANIFEST
    manifest = json.loads(path.read_text())
    for entry in manifest["cases"].values():
        for record in entry["traces"]:
            if record["file"] == rel:
                record["sha256"] = golden.csv_hash((scratch / "traces" / rel).read_bytes())
    path.write_text(golden.dump_manifest(manifest))


EDITS = {  # each a golden steplr/a.csv (4 steps, 1 group) damaged one way
    "edited": lambda data: data.replace(b"0.025", b"0.0250000001", 1),
    "bom": lambda data: b"\xef\xbb\xbf" + data,
    "cut-short": lambda data: data[:60],
    "cut-mid-row": lambda data: data[:-3],
}


@pytest.mark.parametrize("command", [["check"], ["run", "--adapter", FAKE]])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_damaged_golden_under_its_manifest_hash_is_one_line_exit_2(scratch, main_on, command, edit):
    path = scratch / "traces" / "steplr/a.csv"
    path.write_bytes(EDITS[edit](path.read_bytes()))
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2 and f"{path}: content does not match its manifest hash; edited by hand?" in line, line


@pytest.mark.parametrize("command", [["check"], ["run", "--adapter", FAKE]])
@pytest.mark.parametrize("edit, message", [
    ("bom", ":1: starts with a byte order mark (U+FEFF)"),
    ("cut-short", ":2: expected 8 fields, got 3"),
    ("cut-mid-row", "4 of the case's 4 steps"),
])
def test_a_damaged_golden_with_a_matching_hash_is_one_line_exit_2(scratch, main_on, command, edit, message):
    path = scratch / "traces" / "steplr/a.csv"
    path.write_bytes(EDITS[edit](path.read_bytes()))
    rehash(scratch, "steplr/a.csv")
    code, text = main_on(*command)
    (line,) = problem_lines(text)
    assert code == 2 and "steplr/a.csv" in line and (message in line or edit == "cut-mid-row"), line


# --- markup stays text ---------------------------------------------------------------------------------------

class Markup(HTMLParser):
    """A page's start tags with their attributes, the text inside <script> elements, and the rest of its text
    (entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        (self.scripts if self.lasttag == "script" else self.text).append(data)


def page_text(page: str) -> str:
    parser = Markup()
    parser.feed(page)
    return "".join(parser.text)


def assert_text_not_markup(page: str, where: str, expect_text: bool = True) -> None:
    """The hostile text made no element, attribute or script of the page (the page's own scripts - the site's
    filter - are fine), and, with `expect_text`, it is shown, whole, as text."""
    parser = Markup()
    parser.feed(page)
    assert not any("alert" in script for script in parser.scripts), f"{where}: hostile text in a <script>"
    assert not [tag for tag, attrs in parser.tags if tag == "img" and attrs.get("src") == "x"], f"{where}: an <img>"
    assert not [name for _, attrs in parser.tags for name in attrs if name == "onerror"], f"{where}: onerror="
    assert not [v for _, attrs in parser.tags for v in attrs.values() if v and ("<script>" in v or "onerror=" in v)
                and hostile_text.HOSTILE not in v], f"{where}: an attribute holding part of the hostile text"
    if expect_text:
        assert hostile_text.HOSTILE in "".join(parser.text), f"{where}: the hostile text is not shown as text"


@pytest.fixture(scope="module")
def hostile_result(tmp_path_factory):
    """A real result of the hostile-text adapter on four committed StepLR cases: one fail, one error, one
    warning too many, one unsupported - and a `why` made hostile afterwards (a result file is just a file)."""
    out = tmp_path_factory.mktemp("hostile") / "hostile.json"
    ids = [hostile_text.DIFFERS, hostile_text.RAISES, hostile_text.WARNS, hostile_text.UNSUPPORTED]
    argv = ["run", "--adapter", str(Path(hostile_text.__file__)), "--json", str(out), "-q"]
    assert cli.main(argv + [a for i in ids for a in ("-k", i)]) == 1
    document = json.loads(out.read_text())
    statuses = {r["id"]: r["status"] for r in document["results"]}
    assert statuses == {hostile_text.DIFFERS: "fail", hostile_text.RAISES: "error", hostile_text.WARNS: "fail",
                        hostile_text.UNSUPPORTED: "unsupported"}
    for result in document["results"]:
        if result["id"] == hostile_text.DIFFERS:
            result["why"] = hostile_text.HOSTILE
    out.write_text(json.dumps(document))
    return out


@pytest.mark.release_independent
def test_the_html_report_shows_every_hostile_text_as_text(hostile_result, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert cli.main(["report", str(hostile_result), "--html", str(out)]) == 0
    page = out.read_text()
    assert_text_not_markup(page, str(out))
    text = page_text(page)
    for fragment in ("hostile" + hostile_text.HOSTILE, "1" + hostile_text.HOSTILE,  # name, version
                     f"ValueError (error) at step 0 in scheduler.step: {hostile_text.HOSTILE}",  # error
                     f"UserWarning (warning) at step 0 in scheduler.step: {hostile_text.HOSTILE}"):  # warning
        assert fragment in text, fragment
    assert text.count(hostile_text.HOSTILE) >= 6  # and the why, and the unsupported reason


@pytest.mark.release_independent
def test_the_site_shows_every_hostile_text_as_text(hostile_result, tmp_path):
    pytest.importorskip("jinja2")
    pytest.importorskip("matplotlib")
    from conformance.site import Sources, data, pages

    results = tmp_path / "results"
    results.mkdir()
    (results / "hostile.json").write_text(hostile_result.read_text())
    plan = pages.plan(data.load(replace(Sources.checkout(), results=results)))
    shown = []
    for path, page in plan.pages.items():
        assert_text_not_markup(page, path, expect_text=False)
        if hostile_text.HOSTILE in page_text(page):
            shown.append(path)
    for case_id in (hostile_text.RAISES, hostile_text.WARNS, hostile_text.UNSUPPORTED):
        assert pages.case_path(case_id) in shown, case_id  # the library's name, and its error / reason
    assert "index.html" in shown
    (badge,) = plan.badges.values()
    assert json.loads(badge)["label"] == "hostile" + hostile_text.HOSTILE  # JSON, read as text by shields.io


def test_the_fixture_case_file_still_reads_as_the_lines_above():
    lines = CASES.splitlines()
    assert lines[ID_B - 1] == 'id = "steplr/b"' and lines[ID_C - 1] == 'id = "steplr/c"'
