"""The Pages workflow cannot run here, so it is linted like torch-matrix.yml (tests/meta/test_workflow.py): valid
against the GitHub workflow schema (vendored by check-jsonschema), and consistent with the project: it installs
an extra that exists, runs the site command this CLI has, uploads the directory it built, and deploys it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def test_pages_workflow_is_valid_against_the_github_workflow_schema():
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pages_workflow_builds_the_site_it_uploads_and_deploys_it():
    text = WORKFLOW.read_text()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = re.search(r'pip install -e "\.\[([a-z,]+)\]"', text).group(1).split(",")
    assert set(installed) <= set(extras) and "site" in installed
    built = re.search(r"lr-conformance site (\S+)", text).group(1)
    uploaded = re.search(r"upload-pages-artifact@v\d+\s+with:\s+path: (\S+)", text).group(1)
    assert built == uploaded
    for needed in ("pages: write", "id-token: write", "actions/deploy-pages@v", "needs: build",
                   "name: github-pages", "actions/configure-pages@v", "steps.pages.outputs.base_url"):
        assert needed in text, needed


def test_the_site_command_takes_the_options_the_workflow_passes():
    from conformance.cli import build_parser

    text = WORKFLOW.read_text()
    command = re.search(r"run: (lr-conformance site .*)", text).group(1)
    argv = re.sub(r'"\$\{\{[^}]*\}\}"', "https://owner.github.io/repo/", command).split()[1:]
    args = build_parser().parse_args(argv)
    assert args.command == "site" and args.base_url == "https://owner.github.io/repo/"
