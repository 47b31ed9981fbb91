"""Give uv the package sources pip is configured with.

tox creates and fills its environments with uv (the tox-uv plugin, see tox.ini), and uv does not read pip's
configuration. Where pip is told to look somewhere besides PyPI - a directory of local wheels (find-links), a
mirror or a CPU-only torch index (index-url, extra-index-url) - uv would not look there and could resolve
another build of the same release (for torch: the 3-7 GB CUDA wheels of PyPI instead of a local CPU wheel).
This maps pip's settings, as `pip config list` reports them (config files and PIP_* variables), to uv's
variables. A UV_* variable already set wins; nothing is set where pip has no setting.

    eval "$(python tools/uv_env.py)"     # in a shell (.ci/run does this)
    python tools/uv_env.py --check       # print what would be set, one line each

tools/matrix.py applies the same mapping to the tox it runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping

# pip key -> (uv variable, separator uv expects between several values)
PIP_TO_UV = {
    "index-url": ("UV_INDEX_URL", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
}
# pip's sections, weakest first: a later one overrides an earlier one (":env:" is the PIP_* variables)
SECTIONS = ("global", "install", ":env:")
_LINE = re.compile(r"^(?P<section>[^.]+)\.(?P<key>[\w-]+)='(?P<value>.*)'$")


def pip_settings(config_list: str) -> dict[str, list[str]]:
    """{pip key: values} from the text of `pip config list`, the strongest section winning per key."""
    found: dict[str, tuple[int, list[str]]] = {}
    for line in config_list.splitlines():
        match = _LINE.match(line.strip())
        if not match or match["key"] not in PIP_TO_UV or match["section"] not in SECTIONS:
            continue
        rank = SECTIONS.index(match["section"])
        if match["key"] not in found or rank >= found[match["key"]][0]:
            found[match["key"]] = (rank, match["value"].split())
    return {key: values for key, (_, values) in found.items()}


def uv_variables(settings: Mapping[str, list[str]], environ: Mapping[str, str]) -> dict[str, str]:
    """The UV_* variables that make uv look where pip looks, leaving out any the environment already sets."""
    out = {}
    for key, values in settings.items():
        variable, separator = PIP_TO_UV[key]
        if values and variable not in environ:
            out[variable] = separator.join(values)
    # pip picks the best version among all its indexes; uv by default stops at the first index that has the
    # package (an extra index is searched first), which would take torch from a mirror holding one release
    if (settings.get("extra-index-url") or settings.get("index-url")) and "UV_INDEX_STRATEGY" not in environ:
        out["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return out


def from_pip(environ: Mapping[str, str] = os.environ, python: str = sys.executable) -> dict[str, str]:
    """uv_variables() for the pip of `python` (none if pip cannot say)."""
    try:
        proc = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              timeout=60, env={**environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return uv_variables(pip_settings(proc.stdout), environ) if proc.returncode == 0 else {}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    variables = from_pip()
    for name, value in sorted(variables.items()):
        print(f"{name}={value}" if "--check" in argv else f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
