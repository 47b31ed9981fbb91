"""Finding an adapter from one string - the same string for the CLI (--adapter), pytest (--adapter) and tox.

Accepted forms, tried in this order:
  NAME                 an entry point in group `lr_conformance.adapters` (this package registers `torch`)
  package.module:Class a class (or a zero-argument factory) importable from sys.path
  path/to/file.py      a file defining exactly one Adapter subclass (or `path/to/file.py:Class`)
  cmd:<command line>   an out-of-process adapter speaking the JSON-lines protocol (conformance/transport.py)
With no string, $LR_CONFORMANCE_ADAPTER is used, else `torch`.

`timeout` (seconds per case) and `startup_timeout` (seconds for a fresh process's hello; default: `timeout` when
given, else 120) apply to `cmd:` adapters, the only ones that can be stopped; an in-process
adapter is isolated by serving it: `cmd:python -m conformance.serve --adapter SPEC`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from conformance.adapters.base import Adapter, FunctionAdapter, Session, StatefulAdapter

ENTRY_POINT_GROUP = "lr_conformance.adapters"
ENV_VAR = "LR_CONFORMANCE_ADAPTER"
# The built-in adapters, also registered as entry points; listed here so a source checkout that was never
# pip-installed finds them too.
BUILTIN = {"torch": "conformance.adapters.torch_reference:TorchAdapter"}

__all__ = ["Adapter", "AdapterLoadError", "FunctionAdapter", "Session", "StatefulAdapter", "load_adapter"]


class AdapterLoadError(ValueError):
    """The adapter string cannot be resolved. str() is one line naming the string."""


def load_adapter(spec: str | None = None, timeout: float | None = None,
                 startup_timeout: float | None = None) -> Adapter:
    spec = (spec or os.environ.get(ENV_VAR) or "torch").strip()
    try:
        target = _resolve(spec, timeout, startup_timeout)
        adapter = target() if callable(target) else target
    except AdapterLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to construct is a configuration error
        raise AdapterLoadError(f"--adapter {spec!r}: constructing it raised {type(exc).__name__}: {exc}") from None
    if not hasattr(adapter, "trace") or not hasattr(adapter, "info"):
        raise AdapterLoadError(f"--adapter {spec!r}: {adapter!r} is not an adapter (needs .info and .trace(case))")
    return adapter


def _resolve(spec: str, timeout: float | None = None, startup_timeout: float | None = None):
    if spec.startswith("cmd:"):
        command = spec[4:].strip()
        if not command:
            raise AdapterLoadError(f"--adapter {spec!r}: 'cmd:' needs a command line after it")
        from conformance.transport import SubprocessAdapter

        return lambda: SubprocessAdapter(command, timeout=timeout, startup_timeout=startup_timeout)
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
    names = set(BUILTIN)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


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
