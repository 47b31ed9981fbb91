"""Finding an adapter from one string - the same string for the CLI (--adapter), pytest (--lr-adapter) and tox.

Accepted forms, tried in this order:
  NAME                 an entry point in group `lr_conformance.adapters`: this package registers `torch` and
                       the library adapters of conformance/libraries/ (paddle64, optax32, keras64, mmengine ...)
  package.module:Class a class (or a zero-argument factory) importable from sys.path
  path/to/file.py      a file defining exactly one Adapter subclass (or `path/to/file.py:Class`)
  cmd:<command line>   an out-of-process adapter speaking the JSON-lines protocol (conformance/transport.py)
With no string, $LR_CONFORMANCE_ADAPTER is used, else `torch`.

`isolate=True` serves any of these in a child process (`python -m conformance.serve --adapter SPEC`, through
conformance/transport.py), which contains what no in-process guard can: os._exit, hangs, crashes in C.
`timeout` (seconds per case) can only stop a child process, so giving one isolates the adapter too.
`startup_timeout` (seconds for a fresh child process's hello) defaults to `timeout` when given, else 120.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from conformance.adapters.base import Adapter, FunctionAdapter, Session, StatefulAdapter, Unsupported
from conformance.model import AdapterInfo, declaration_problem

ENTRY_POINT_GROUP = "lr_conformance.adapters"
ENV_VAR = "LR_CONFORMANCE_ADAPTER"
# The built-in adapters, also registered as entry points (pyproject.toml; a test keeps the two equal); listed
# here so a source checkout that was never pip-installed finds them too.
BUILTIN = {
    "torch": "conformance.adapters.torch_reference:TorchAdapter",
    "optax64": "conformance.libraries.optax:Optax64",
    "optax32": "conformance.libraries.optax:Optax32",
    "keras64": "conformance.libraries.keras:Keras64",
    "keras32": "conformance.libraries.keras:Keras32",
    "paddle64": "conformance.libraries.paddle:Paddle64",
    "paddle32": "conformance.libraries.paddle:Paddle32",
    "mmengine": "conformance.libraries.mmengine:MMEngine",
    "timm": "conformance.libraries.timm:Timm",
    "mindspore": "conformance.libraries.mindspore:MindSpore",
    "mlx": "conformance.libraries.mlx:MLX",
    "fvcore": "conformance.libraries.fvcore:FVCore",
    "pytorch-optimizer": "conformance.libraries.pytorch_optimizer:PytorchOptimizer",
    "tf-keras64": "conformance.libraries.tf_keras:TFKeras64",
    "tf-keras32": "conformance.libraries.tf_keras:TFKeras32",
    "fastai": "conformance.libraries.fastai:FastAI",
    "deepspeed": "conformance.libraries.deepspeed:DeepSpeed",
}

__all__ = ["Adapter", "AdapterLoadError", "FunctionAdapter", "Session", "StatefulAdapter", "Unsupported",
           "load_adapter", "registered"]


class AdapterLoadError(ValueError):
    """The adapter string cannot be resolved. str() is one line naming the string."""


def resolve_spec(spec: str | None = None) -> str:
    """The adapter string in effect: `spec`, else $LR_CONFORMANCE_ADAPTER, else `torch`."""
    return (spec or os.environ.get(ENV_VAR) or "torch").strip()


def load_adapter(spec: str | None = None, timeout: float | None = None, isolate: bool = False,
                 startup_timeout: float | None = None, max_answer_bytes: int | None = None) -> Adapter:
    spec = resolve_spec(spec)
    try:
        if isolate or timeout is not None:
            target = _isolated(spec, timeout, startup_timeout, max_answer_bytes)
        else:
            target = _resolve(spec, timeout, startup_timeout, max_answer_bytes)
        adapter = target() if callable(target) else target
        info = getattr(adapter, "info", None)
    except AdapterLoadError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure to construct (sys.exit too) is a configuration error
        raise AdapterLoadError(f"--adapter {spec!r}: constructing it raised {type(exc).__name__}: {exc}") from None
    if not hasattr(adapter, "trace") or info is None:
        raise AdapterLoadError(f"--adapter {spec!r}: {adapter!r} is not an adapter (needs .info and .trace(case))")
    if not isinstance(info, AdapterInfo):
        raise AdapterLoadError(f"--adapter {spec!r}: .info is a {type(info).__name__}, not an AdapterInfo")
    problem = declaration_problem(info)
    if problem is not None:
        raise AdapterLoadError(f"--adapter {spec!r}: its declaration is invalid: {problem}")
    return adapter


def _isolated(spec: str, timeout: float | None, startup_timeout: float | None, max_answer_bytes: int | None = None):
    from conformance.transport import SERVE_SAYS, AdapterCrash, SubprocessAdapter, python_command

    if spec.startswith("cmd:"):
        return _resolve(spec, timeout, startup_timeout, max_answer_bytes)

    def served():
        try:
            return SubprocessAdapter(python_command(spec), timeout=timeout, startup_timeout=startup_timeout,
                                     max_answer_bytes=max_answer_bytes)
        except AdapterCrash as crash:
            # Our own server could not load the adapter string and said why before exiting: that is the same
            # usage error an in-process load gives, not a crash of the implementation.
            said = [line for line in crash.stderr if line.startswith(SERVE_SAYS)]
            if said:
                raise AdapterLoadError(said[-1][len(SERVE_SAYS):]) from None
            raise

    return served


def _resolve(spec: str, timeout: float | None = None, startup_timeout: float | None = None,
             max_answer_bytes: int | None = None):
    if spec.startswith("cmd:"):
        command = spec[4:].strip()
        if not command:
            raise AdapterLoadError(f"--adapter {spec!r}: 'cmd:' needs a command line after it")
        from conformance.transport import SubprocessAdapter

        return lambda: SubprocessAdapter(command, timeout=timeout, startup_timeout=startup_timeout,
                                         max_answer_bytes=max_answer_bytes)
    path_part, _, attr = spec.partition(":") if not _looks_like_windows_path(spec) else (spec, "", "")
    if path_part.endswith(".py"):
        return _from_file(spec, Path(path_part), attr)
    if ":" in spec:
        return _from_module(spec, path_part, attr)
    target = _from_entry_point(spec)
    if target is not None:
        return target
    raise AdapterLoadError(
        f"--adapter {spec!r}: not an entry point in {ENTRY_POINT_GROUP!r} (known: {', '.join(known_names())}), "
        "and not module:Class, a .py file, or cmd:<command>"
    )


def _looks_like_windows_path(spec: str) -> bool:
    return len(spec) > 2 and spec[1] == ":" and spec[2] in "\\/"


def known_names() -> list[str]:
    return sorted(registered())


def registered() -> dict[str, str]:
    """Every adapter name -> its "module:Class": the built-in ones and every installed entry point (an entry
    point of another package may add names, or rebind one)."""
    found = dict(BUILTIN)
    found.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return found


def _from_entry_point(name: str):
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as exc:  # noqa: BLE001
                raise AdapterLoadError(f"--adapter {name!r}: entry point {ep.value} failed to load: {exc}") from None
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return _from_module(name, module, attr)
    return None


def _from_module(spec: str, module_name: str, attr: str):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise AdapterLoadError(f"--adapter {spec!r}: cannot import module {module_name!r} ({exc})") from None
    return _attribute(spec, module, attr)


def _from_file(spec: str, path: Path, attr: str):
    if not path.is_file():
        raise AdapterLoadError(f"--adapter {spec!r}: no such file {str(path)!r}")
    name = f"lr_conformance_user_adapter_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        raise AdapterLoadError(f"--adapter {spec!r}: importing {path} raised {type(exc).__name__}: {exc}") from None
    if attr:
        return _attribute(spec, module, attr)
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Adapter)
        and obj.__module__ == name
        and not inspect.isabstract(obj)
    ]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise AdapterLoadError(f"--adapter {spec!r}: expected exactly one Adapter subclass in {path}, found {names}; "
                               f"name one with {path}:Class")
    return found[0]


def _attribute(spec: str, module, attr: str):
    if not attr:
        raise AdapterLoadError(f"--adapter {spec!r}: name the class after ':'")
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AdapterLoadError(f"--adapter {spec!r}: module {module.__name__!r} has no attribute {attr!r}") from None
