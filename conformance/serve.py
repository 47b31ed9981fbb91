"""Serve an in-process adapter over the subprocess protocol (see conformance/transport.py and
schemas/protocol.schema.json), so a Python adapter living in another environment can be graded:

    # in the environment that has the implementation (and lr-conformance) installed:
    /path/to/other/venv/bin/python -m conformance.serve --adapter mylib_adapter.py
    # from the harness:
    lr-conformance run --adapter 'cmd:/path/to/other/venv/bin/python -m conformance.serve --adapter mylib_adapter.py'

--adapter takes the same strings as everywhere else (entry point, module:Class, file.py[:Class]).
The real stdout is reserved for protocol lines: anything the adapter prints (Python or C level) goes to
stderr. Exit codes: 0 at end of input, 2 when the adapter cannot be loaded (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO

from conformance.adapters import AdapterLoadError, load_adapter
from conformance.adapters.base import Unsupported
from conformance.cases import CaseError, case_from_json
from conformance.model import json_safe
from conformance.runner import AdapterFault, adapter_output_to_stderr, trace_case
from conformance.transport import PROTOCOL_VERSION, SERVE_SAYS, loads_strict
from conformance.vocabulary import VocabularyError


def handle(adapter, message) -> dict:
    """The answer to one request (a decoded JSON value)."""
    if not isinstance(message, dict):
        return {"error": f"a request must be a JSON object, got {type(message).__name__}"}
    op = message.get("op")
    if op == "hello":
        return {**adapter.info.to_json(), "protocol": PROTOCOL_VERSION}
    if op == "trace":
        try:
            case = case_from_json(message.get("case"))
        except (CaseError, VocabularyError, TypeError, ValueError, KeyError) as exc:
            return {"error": f"cannot read the case: {exc}"}
        try:
            trace = trace_case(adapter, case)
        except Unsupported as exc:  # the library lacks this configuration: UNSUPPORTED, with the reason
            return {"unsupported": str(exc)}
        except AdapterFault as exc:  # sys.exit, not a Trace...: the harness records ERROR, as in process
            return {"error": str(exc), "type": "AdapterFault"}
        except Exception as exc:  # noqa: BLE001 - reported to the harness, which records ERROR
            return {"error": f"{type(exc).__name__}: {exc}", "type": type(exc).__name__}
        return {"trace": json_safe(trace.to_json())}
    return {"error": f"unknown op {op!r} (expected 'hello' or 'trace')"}


def serve(adapter, stdin: IO[str], stdout: IO[str]) -> int:
    """Answer requests from `stdin` on `stdout`, one line each, until end of input."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = loads_strict(line)
        except ValueError as exc:
            reply = {"error": f"request is not JSON: {exc}"}
        else:
            reply = handle(adapter, message)
        stdout.write(json.dumps(reply, allow_nan=False, separators=(",", ":")) + "\n")
        stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default=None,
                        help="entry point, module:Class or path/to/adapter.py (default: $LR_CONFORMANCE_ADAPTER "
                             "or torch)")
    args = parser.parse_args(argv)
    # Keep the real stdout for the protocol; everything else that reaches fd 1 (or sys.stdout) goes to stderr.
    sys.stdout.flush()
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    with adapter_output_to_stderr():
        try:
            adapter = load_adapter(args.adapter)
        except AdapterLoadError as exc:
            print(f"{SERVE_SAYS}{exc}", file=sys.stderr)
            return 2
        try:
            return serve(adapter, sys.stdin, protocol_out)
        except (BrokenPipeError, KeyboardInterrupt):
            return 0
        finally:
            adapter.close()


if __name__ == "__main__":
    sys.exit(main())
