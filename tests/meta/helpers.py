"""Small, torch-free building blocks for the harness tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from conformance import golden
from conformance.adapters import FunctionAdapter
from conformance.cases import parse_case
from conformance.model import FEATURES, AdapterInfo, Case


def make_case(case_id: str = "steplr/demo", **overrides) -> Case:
    data = {"id": case_id, "why": "a demo case", "scheduler": "StepLR", "kwargs": {"step_size": 2},
            "groups": [{"lr": 0.1}, {"lr": 0.05}], "steps": 6}
    data.update(overrides)
    return parse_case(data, source="tests/meta", family=case_id.split("/")[0])


class HalvingAdapter(FunctionAdapter):
    """lr = base * factor ** step: a deterministic stand-in for torch in harness tests."""

    def __init__(self, factor: float = 0.5, mirrors: str = golden.REFERENCE_RELEASE) -> None:
        self.factor = factor
        self.info = AdapterInfo("halving", "1", frozenset({"StepLR"}), frozenset(FEATURES), mirrors=mirrors)

    def lrs_at(self, case: Case, step: int):
        return [g["lr"] * self.factor**step for g in case.groups]


def torch_store(root: Path) -> golden.Goldens:
    """An empty scratch store whose reference release is the installed torch's, so that the torch adapter
    can generate goldens into it whatever release the env has (the tox envs run 1.13.1 ... 2.15.0)."""
    from conformance import TRACE_FORMAT
    from conformance.adapters.torch_reference import TorchAdapter

    return golden.Goldens(root, {"format": TRACE_FORMAT, "reference": TorchAdapter().info.mirrors, "cases": {}})


def empty_store(tmp_path: Path) -> golden.Goldens:
    return golden.load(tmp_path / "traces")


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def lock_held_elsewhere(root: Path):
    """The writers' lock of the goldens at `root`, held by another process until the block ends; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from conformance import golden\n"
         "with golden.locked(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)", str(root)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def load_tool(name: str, module_name: str | None = None):
    """tools/<name>.py imported as a module (tools/ is not a package), registered in sys.modules under
    `module_name` (default `<name>_tool`) first, since dataclasses look their module up while a class is made."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tools"))
    spec = importlib.util.spec_from_file_location(module_name or f"{name}_tool", root / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
