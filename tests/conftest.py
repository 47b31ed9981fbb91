"""Shared by both test trees. The conformance plugin is registered by the installed package's pytest11 entry
point; a checkout that was never pip-installed loads it from here instead."""

import importlib.metadata

_installed = any(ep.value == "conformance.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["conformance.pytest_plugin"]
