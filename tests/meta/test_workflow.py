"""The GitHub Actions matrix cannot run here, so it is linted: valid against the GitHub workflow schema
(vendored by check-jsonschema), and its envs are exactly tox.ini's torch envs and tools/matrix.py's releases."""

from __future__ import annotations

import configparser
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "torch-matrix.yml"


def _matrix_tool():
    spec = importlib.util.spec_from_file_location("matrix_tool", ROOT / "tools" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
