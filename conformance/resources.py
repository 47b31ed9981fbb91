"""Where the suite's data is: the case files, the golden traces and their manifest, the JSON schemas and the
recorded expectations of the library adapters. The one module that knows; every reader asks it.

The repository's top-level golden/, schemas/ and expectations/ are the source of truth. A wheel carries a
copy of them inside the package, put there at build time (pyproject.toml, [tool.hatch.build.targets.wheel]):

    installed wheel               <site-packages>/conformance/_data/{golden,schemas,expectations}
    checkout, editable install    <checkout>/{golden,schemas,expectations}

The package directory comes from importlib.resources; a `_data` directory beside the code means a wheel,
otherwise the code runs from a checkout and reads the checkout's files. Only `lr-conformance regen` writes,
and only into a checkout (`regen_target`): a wheel's copy is data to grade against, not a source.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tomllib
from pathlib import Path

DISTRIBUTION = "lr-conformance"


class LocationError(ValueError):
    """Data that is not where it must be (regen outside a checkout, a --goldens that is not one). One line."""


def _package_dir() -> Path:
    # An installed wheel is unpacked on disk, so the package's Traversable is a real directory; the readers
    # (glob, rglob, stat, the regen lock) need paths, not a zip view.
    return Path(os.fspath(importlib.resources.files("conformance")))


PACKAGED = _package_dir() / "_data"
CHECKOUT = _package_dir().parent
IN_CHECKOUT = not (PACKAGED / "golden").is_dir()
DATA_ROOT = CHECKOUT if IN_CHECKOUT else PACKAGED

# $LR_CONFORMANCE_GOLDENS points every command (regen included) at another golden/ directory: a scratch copy
# for tools/stress_goldens.py and the tests, or a user's own.
GOLDENS_ENV = "LR_CONFORMANCE_GOLDENS"
GOLDEN_DIR = Path(os.environ[GOLDENS_ENV]).resolve() if os.environ.get(GOLDENS_ENV) else DATA_ROOT / "golden"
CASES_DIR = GOLDEN_DIR / "cases"
SHIPPED_CASES_DIR = DATA_ROOT / "golden" / "cases"  # the cases this suite ships, wherever GOLDEN_DIR points
TRACES_DIR = GOLDEN_DIR / "traces"
SCHEMAS_DIR = DATA_ROOT / "schemas"
EXPECTATIONS_DIR = DATA_ROOT / "expectations"
MANIFEST = "manifest.json"


def schema_path(name: str) -> Path:
    """schemas/<name>.schema.json: "result", "protocol", ..."""
    return SCHEMAS_DIR / f"{name}.schema.json"


def display(path: Path) -> str:
    """How messages name a data file: a path that opens from where the user stands - relative to the current
    directory when the file is under it (golden/traces/steplr/x.csv from the checkout), else absolute. Not
    relative to the checkout: an editable install run from another directory would print a path that does not
    exist there. Plain string work (no resolve()): a run names every case's golden."""
    absolute, here = os.path.abspath(path), os.getcwd()
    if absolute == here or absolute.startswith(here.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(absolute, here)).as_posix()
    return absolute


def goldens_digest(source: Path | bytes | None = TRACES_DIR) -> str | None:
    """What a result was graded against: "sha256:" + the SHA-256 of the manifest's bytes (None when there is no
    manifest). `source` is a traces directory, or the manifest bytes of the snapshot that was graded
    (golden.Goldens.manifest_bytes: the same bytes the traces were checked against, even if a regen swapped the
    directory since). The manifest lists every trace file with its SHA-256 and torch range and every case's
    spec hash, and each trace is checked against it when read, so two results with the same digest were graded
    against the same goldens."""
    if isinstance(source, Path):
        try:
            source = (source / MANIFEST).read_bytes()
        except FileNotFoundError:
            return None
    return None if source is None else "sha256:" + hashlib.sha256(source).hexdigest()


# --- expectations ---------------------------------------------------------------------------------------


def expectations_names() -> list[str]:
    """The recorded expectations this suite ships, by name (the library adapter's info.name)."""
    return sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.toml"))


def expectations_file(value: str) -> Path:
    """An `--expectations` value: a TOML file, or the name of one the suite ships (`paddle-float64` is
    expectations/paddle-float64.toml, wherever the suite is installed). An existing file wins; anything else
    is returned as a path, for the loader to report."""
    path = Path(value)
    if path.is_file() or Path(value).name != value:
        return path
    shipped = EXPECTATIONS_DIR / f"{value.removesuffix('.toml')}.toml"
    return shipped if shipped.is_file() else path


def expectations_argument(path: Path) -> str:
    """How to name an expectations file on a command line: by name when it is a shipped one."""
    if Path(path).parent.resolve() == EXPECTATIONS_DIR.resolve() and Path(path).suffix == ".toml":
        return Path(path).stem
    return str(path)


# --- regeneration: only into a checkout ------------------------------------------------------------------


def is_checkout(directory: Path) -> bool:
    """A checkout of this project: golden/cases/ beside a pyproject.toml naming lr-conformance."""
    if not (directory / "golden" / "cases").is_dir():
        return False
    try:
        project = tomllib.loads((directory / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return project.get("name") == DISTRIBUTION


def find_checkout(start: Path) -> Path | None:
    """The checkout `start` is in (it or its nearest ancestor that is one), or None."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if is_checkout(directory):
            return directory
    return None


def regen_target(goldens: Path | None, cwd: Path | None = None) -> Path:
    """The golden/ directory `regen` reads cases from and writes traces into: `--goldens DIR` (a golden/
    directory, or a checkout holding one), else the checkout the current directory is in. Never a wheel's
    copy: regeneration changes the source of truth, which only a checkout has. $LR_CONFORMANCE_GOLDENS counts
    as --goldens."""
    if goldens is None and os.environ.get(GOLDENS_ENV):
        goldens = Path(os.environ[GOLDENS_ENV])
    if goldens is not None:
        for candidate in (goldens, goldens / "golden"):
            if (candidate / "cases").is_dir():
                return candidate
        raise LocationError(f"--goldens {goldens}: not a golden directory (no cases/ in it, nor in {goldens}/golden)")
    checkout = find_checkout(cwd or Path.cwd())
    if checkout is None:
        raise LocationError("regen needs a checkout of lr-conformance: run it inside one, or name its golden/ "
                            "directory with --goldens DIR")
    return checkout / "golden"
