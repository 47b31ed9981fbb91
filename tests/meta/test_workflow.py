"""The GitHub Actions matrix cannot run here, so it is linted: valid against the GitHub workflow schema
(vendored by check-jsonschema), and its envs are exactly tox.ini's torch envs and tools/matrix.py's releases."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

from helpers import load_tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "torch-matrix.yml"


def _matrix_tool():
    return load_tool("matrix")


def _tox_torch_envs() -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return re.findall(r"^\s*(torch\d+): torch==", parser["testenv"]["deps"], re.M)


def test_workflow_is_valid_against_the_github_workflow_schema():
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_tox_and_matrix_tool_list_the_same_17_releases():
    matrix = _matrix_tool()
    tox_envs = _tox_torch_envs()
    assert tox_envs == [matrix.env_name(r) for r in matrix.RELEASES]
    assert len(tox_envs) == 17
    text = WORKFLOW.read_text()
    listed = re.search(r"env: \[([^\]]*)\]", text, re.S).group(1)
    assert [e.strip() for e in listed.split(",")] == tox_envs


def test_ci_and_the_workflow_run_tox_with_the_uv_plugin_tox_ini_requires():
    """Every env is made by uv: tox.ini requires tox-uv, and .ci/run and the workflow install that same
    requirement up front; .ci/run hands uv pip's package sources (uv does not read pip's configuration)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    required = parser["tox"]["requires"].split()
    tox_uv = next(r for r in required if r.startswith("tox-uv"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert f'"{tox_uv}"' in ci and f'"{tox_uv}"' in WORKFLOW.read_text()
    assert 'eval "$(python tools/uv_env.py)"' in ci
    assert "PIP_CONSTRAINT" not in parser["testenv"].get("set_env", "")  # uv would ignore it


CAMPAIGN = ROOT / ".github" / "workflows" / "fuzz-campaign.yml"


def test_the_fuzz_campaign_workflow_is_valid_and_names_what_exists():
    """The sharded campaign cannot run here either: it is valid, and each shard's adapter is a registered name,
    its expectations file is shipped, its pip extra exists and its scheduler is a torch scheduler."""
    import tomllib

    from conformance.adapters import BUILTIN
    from conformance.cases import SCHEDULERS

    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(CAMPAIGN)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    shards = re.findall(r"\{candidate: ([\w-]+), expectations: ([\w-]+), extra: ([\w-]+), scheduler: (\w+)\}",
                        CAMPAIGN.read_text())
    assert shards
    for adapter, expectations, extra, scheduler in shards:
        assert adapter in BUILTIN, adapter
        assert (ROOT / "expectations" / f"{expectations}.toml").is_file(), expectations
        assert extra in extras and scheduler in SCHEDULERS, (extra, scheduler)
    assert "campaign" in extras
