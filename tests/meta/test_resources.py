"""conformance/resources.py, the one place that knows where the data is: a checkout's files here (the wheel's
copy is tested in test_packaging.py), shipped expectations by name, the goldens digest a result records, and
regeneration only into a checkout."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conformance import __version__, cases, golden, resources
from conformance.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASE = "steplr/gamma-half-step3"


@pytest.mark.skipif(not resources.IN_CHECKOUT, reason="the package is installed from a wheel here")
def test_a_checkout_reads_its_own_top_level_data():
    assert resources.IN_CHECKOUT and resources.DATA_ROOT == ROOT
    assert (cases.CASES_DIR, golden.TRACES_DIR) == (ROOT / "golden" / "cases", ROOT / "golden" / "traces")
    assert resources.schema_path("result") == ROOT / "schemas" / "result.schema.json"
    assert resources.display(Path("/elsewhere/x.csv")) == "/elsewhere/x.csv"


def test_a_data_file_is_named_by_a_path_that_opens_from_the_current_directory(tmp_path, monkeypatch):
    """An editable install run from another directory used to print `golden/traces/...` relative to the
    checkout, which does not exist where the user stands: relative when under the current directory, else
    absolute."""
    trace = golden.TRACES_DIR / "steplr" / "gamma-half-step3.csv"
    monkeypatch.chdir(golden.TRACES_DIR.parent)
    assert resources.display(trace) == "traces/steplr/gamma-half-step3.csv"
    monkeypatch.chdir(tmp_path)
    assert resources.display(trace) == str(trace) and Path(resources.display(trace)).is_file()
    assert resources.display(Path("sub/x.csv")) == "sub/x.csv"  # a relative path stays as the user gave it


def test_a_failure_names_its_golden_by_a_path_that_opens_from_another_directory(tmp_path, monkeypatch, capsys):
    tinysched = ROOT / "examples" / "tinysched" / "adapter.py"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYSCHED_BUG", "1")
    assert main(["run", "--adapter", str(tinysched), "-k", CASE, "-q"]) == 1
    named = [line.split("golden: ", 1)[1] for line in capsys.readouterr().out.splitlines() if "golden: " in line]
    assert named and all(Path(path).is_file() for path in named), named


def test_expectations_by_name_or_by_path(tmp_path, monkeypatch):
    assert resources.expectations_names() == sorted(p.stem for p in (ROOT / "expectations").glob("*.toml"))
    assert resources.expectations_file("paddle-float64") == ROOT / "expectations" / "paddle-float64.toml"
    assert resources.expectations_file("timm.toml") == ROOT / "expectations" / "timm.toml"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "timm").write_text("")
    assert resources.expectations_file("timm") == Path("timm")  # an existing file wins over a name
    assert resources.expectations_file("sub/paddle-float64") == Path("sub/paddle-float64")
    assert resources.expectations_argument(ROOT / "expectations" / "timm.toml") == "timm"
    assert resources.expectations_argument(tmp_path / "timm") == str(tmp_path / "timm")


def test_an_unknown_expectations_name_is_one_line_naming_the_shipped_ones(capsys):
    assert main(["run", "-k", CASE, "--expectations", "no-such-library"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-library: expectations file not found" in err and "paddle-float64" in err


@pytest.mark.parametrize("content, message", [
    (b'[[differs]]\nid = ["a"]\nreason = "x"\n', ".toml:1: [[differs]] #1: 'id' must be a string, got list"),
    (b'[[differs]]\nid = "x"\nreason = "y"\n\n[[differs]]\nid = "z"\nreason = 3\n',
     ".toml:5: [[differs]] #2: 'reason' must be a string, got int"),
    (b'[[differs]]\nid = "x"\nreason = "y"\nlink = {}\n', "'link' must be a string, got dict"),
    (b"differs = 3\n", ".toml: 'differs' must be [[differs]] tables, got int"),
    (b'[[differs]]\nid = "x"\nreason = "\xff"\n', ".toml:3: not UTF-8 text (byte 0xff)"),
    (None, ".toml: cannot read (Is a directory)"),
])
def test_a_malformed_expectations_file_is_one_line_exit_2(tmp_path, capsys, content, message):
    # found by tools/mutate_data.py: these were tracebacks (or, for a list id, a silent non-match)
    path = tmp_path / "mine.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert main(["run", "-k", CASE, "--expectations", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_the_result_records_the_suite_version_and_the_goldens_digest(tmp_path):
    from test_reports import schema_validator

    out = tmp_path / "result.json"
    assert main(["run", "-k", CASE, "--json", str(out), "-q"]) == 0
    document = json.loads(out.read_text())
    manifest = (ROOT / "golden" / "traces" / "manifest.json").read_bytes()
    assert document["suite"]["goldens"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert document["suite"]["version"] == __version__
    schema_validator("result").validate(document)
    document["suite"]["goldens"] = "sha256:nothex"
    assert list(schema_validator("result").iter_errors(document))


def scratch_checkout(parent: Path) -> Path:
    """A checkout with one case file and no traces yet."""
    (parent / "golden" / "cases").mkdir(parents=True)
    shutil.copy(ROOT / "golden" / "cases" / "steplr.toml", parent / "golden" / "cases")
    (parent / "pyproject.toml").write_text('[project]\nname = "lr-conformance"\n')
    return parent


def test_regen_outside_a_checkout_refuses_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    (tmp_path / "golden" / "cases").mkdir(parents=True)
    assert main(["regen", "-k", CASE]) == 2
    err = capsys.readouterr().err
    assert err == ("lr-conformance: regen needs a checkout of lr-conformance: run it inside one, or name its "
                   "golden/ directory with --goldens DIR\n")
    assert main(["regen", "--goldens", str(tmp_path / "nothing")]) == 2
    assert "--goldens" in capsys.readouterr().err
    assert not (tmp_path / "golden" / "traces").exists()


@pytest.mark.parametrize("how", ["standing-in-it", "--goldens", "--goldens-checkout"])
def test_regen_writes_into_the_checkout_it_is_given(tmp_path, monkeypatch, capsys, how):
    from conformance.adapters.torch_reference import TorchAdapter

    if TorchAdapter().info.mirrors != golden.REFERENCE_RELEASE:
        pytest.skip("regen writes reference goldens only with the reference torch")
    checkout = scratch_checkout(tmp_path / "checkout")
    argv = ["regen", "-k", CASE]
    if how == "standing-in-it":
        monkeypatch.chdir(checkout / "golden" / "cases")  # any directory inside it
    else:
        monkeypatch.chdir(tmp_path)
        argv += ["--goldens", str(checkout / "golden" if how == "--goldens" else checkout)]
    assert main(argv) == 0
    written = checkout / "golden" / "traces" / f"{CASE}.csv"
    assert written.read_bytes() == (ROOT / "golden" / "traces" / f"{CASE}.csv").read_bytes()
    assert "new" in capsys.readouterr().out
