"""Library adapters by name: every name the package registers (pyproject.toml's lr_conformance.adapters
entry points, mirrored in conformance.adapters.BUILTIN for a checkout that was never installed) resolves to
its class in conformance/libraries/ or the torch reference, and `lr-conformance adapters` lists each one on
one line: importable here with the version it grades, or why not."""

from __future__ import annotations

import configparser
import importlib
import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from conformance import adapters
from conformance.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_NAMES = {"optax64", "optax32", "keras64", "keras32", "paddle64", "paddle32", "mmengine", "timm", "mindspore",
                 "mlx", "fvcore", "pytorch-optimizer", "tf-keras64", "tf-keras32", "fastai", "deepspeed"}


def test_builtin_names_are_the_entry_points_pyproject_declares():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["project"]["entry-points"]["lr_conformance.adapters"]
    assert declared == adapters.BUILTIN
    assert set(declared) == LIBRARY_NAMES | {"torch"}


@pytest.mark.parametrize("name", sorted(LIBRARY_NAMES | {"torch"}))
def test_each_name_resolves_to_its_class_without_importing_the_library(name):
    target = adapters._resolve(name)  # the class, not constructed: no library needed
    module, _, attr = adapters.BUILTIN[name].partition(":")
    assert (target.__module__, target.__name__) == (module, attr)
    assert module.startswith("conformance.libraries." if name != "torch" else "conformance.adapters.")


def test_an_installed_entry_point_is_listed_and_wins_over_the_builtin(monkeypatch):
    extra = [importlib.metadata.EntryPoint("mylib", "mylib.conformance:Adapter", adapters.ENTRY_POINT_GROUP),
             importlib.metadata.EntryPoint("torch", "other.torch:Adapter", adapters.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(adapters, "entry_points", lambda group: extra)
    found = adapters.registered()
    assert found["mylib"] == "mylib.conformance:Adapter" and found["torch"] == "other.torch:Adapter"
    assert set(found) == set(adapters.BUILTIN) | {"mylib"}


def test_adapters_lists_every_registered_adapter_on_one_line(capsys, monkeypatch):
    broken = importlib.metadata.EntryPoint("broken", "no_such_module_xyz:Adapter", adapters.ENTRY_POINT_GROUP)
    monkeypatch.setattr(adapters, "entry_points", lambda group: [broken])
    assert main(["adapters"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(adapters.BUILTIN) | {"broken"}
    import torch

    assert lines["torch"].split()[1:] == ["conformance.adapters.torch_reference:TorchAdapter", "importable:",
                                          "torch", torch.__version__.split("+")[0]]
    assert lines["broken"].endswith("not importable: entry point no_such_module_xyz:Adapter failed to load: "
                                    "No module named 'no_such_module_xyz'")
    for name in LIBRARY_NAMES:
        module = adapters.BUILTIN[name].partition(":")[0]
        library = {"optax": "jax", "mmengine": "mmengine", "paddle": "paddle", "keras": "keras", "timm": "timm",
                   "mindspore": "mindspore", "mlx": "mlx", "fvcore": "fvcore",
                   "pytorch_optimizer": "pytorch_optimizer", "tf_keras": "tf_keras", "fastai": "fastai", "deepspeed": "deepspeed"}[module.rsplit(".", 1)[1]]
        if importlib.util.find_spec(library) is None:
            assert lines[name].split()[1:3] == [adapters.BUILTIN[name], "not"], lines[name]
            assert " not importable: " in lines[name] and library in lines[name], lines[name]
        else:  # in that library's tox env
            assert lines[name].split()[1:3] == [adapters.BUILTIN[name], "importable:"], lines[name]
        # importable or not, the line names the adapter's shipped expectations (what `run --help` promises)
        variant = adapters._resolve(name).variant
        assert lines[name].endswith(f"; recorded differences: --expectations {variant}"), lines[name]


def tox_envs() -> set[str]:
    """The env names tox.ini's [testenv:...] sections declare, `{a,b}` expanded."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini", encoding="utf-8")
    return {name for section in config.sections() if section.startswith("testenv:")
            for name in re.sub(r"[{}\s]", "", section.removeprefix("testenv:")).split(",")}


@pytest.mark.parametrize("name", sorted(LIBRARY_NAMES))
def test_a_library_adapter_states_its_variant_and_install_command_without_the_library(name):
    """`adapters` must name what to install when a library is missing (it said "No module named 'numpy'" for
    paddle: whichever dependency the adapter imported first) and the expectations by the variant's name."""
    target = adapters._resolve(name)
    module = importlib.import_module(target.__module__)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    extra = module.INSTALL.partition("lr-conformance[")[2].partition("]")[0]
    assert extra in extras or (not extra and module.LIBRARY in module.INSTALL), module.INSTALL
    env = module.LIBRARY.replace("-", "_")  # tox reads a hyphen as a factor separator
    assert env in tox_envs(), f"no tox env {env!r}, which `adapters` names"
    assert (ROOT / "expectations" / f"{target.variant}.toml").is_file(), target.variant


def test_a_missing_library_is_named_with_what_installs_it(capsys):
    if importlib.util.find_spec("paddle") is not None:
        pytest.skip("paddle is installed here")
    assert main(["adapters"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("paddle64 "))
    assert "No module named 'paddle'" in line, line
    assert "install it: pip install 'lr-conformance[paddle]' (in a checkout: tox -e paddle)" in line, line


def test_run_with_a_library_name_whose_library_is_missing_is_one_line_exit_2(capsys):
    if importlib.util.find_spec("paddle") is not None:
        pytest.skip("paddle is installed here")
    assert main(["run", "--adapter", "paddle64", "-k", "steplr/gamma-half-step3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lr-conformance: --adapter 'paddle64': constructing it raised ModuleNotFoundError") and \
        err.count("\n") == 1, err


@pytest.mark.parametrize("argv", [["run", "--isolate", "--adapter", "nosuch:Thing"],
                                  ["fuzz", "--adapter", "torch", "--reference", "nosuch:Thing"]],
                         ids=["run --isolate", "fuzz's reference in its own process"])
def test_an_adapter_string_that_fails_in_its_child_process_says_why_as_in_process(argv, capsys):
    """A bad adapter string loaded in a child (`--isolate`, fuzz's reference) is the same one-line usage error
    as in process, not "constructing it raised AdapterCrash: process exited with code 2 before answering
    hello (stderr: conformance.serve: ...)" - the child's own explanation, wrapped twice."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    role = "--reference" if argv[0] == "fuzz" else "--adapter"
    assert err == [f"lr-conformance: {role} 'nosuch:Thing': cannot import module 'nosuch' (No module named "
                   "'nosuch')"], err
