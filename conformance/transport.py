"""The subprocess transport: grade an implementation running in another process - another Python
environment, another language - through JSON lines over its stdin/stdout.

    lr-conformance run --adapter 'cmd:/other/venv/bin/python -m conformance.serve --adapter mylib_adapter.py'
    lr-conformance run --adapter 'cmd:./my-rust-scheduler-adapter' --timeout 5

The protocol (JSON Schema: schemas/protocol.schema.json). One JSON object per line, UTF-8, each request
answered by exactly one line, in order:

    harness -> adapter                                  adapter -> harness
    {"op": "hello", "protocol": 1}                      AdapterInfo.to_json(): {"name", "version",
                                                        "schedulers", "features", "observables",
                                                        "tolerance": {"rel", "abs", "reason"}, "mirrors"}
    {"op": "trace", "case": cases.case_to_json(case)}   {"trace": Trace.to_json()}  or  {"error": "..."}
    (end of stdin)                                      exits

Non-finite floats travel as the strings "nan", "inf", "-inf" (JSON has no nan/inf), in cases and traces
alike. stdout carries protocol lines only; an adapter logs to stderr (the harness keeps the last lines of it
for crash reports). `{"error": ...}` means the adapter could not run the case (status ERROR); errors that
*are* the behaviour under test (a ValueError for a bad argument) belong in the trace as events.
Python implementations need not write any of this: `python -m conformance.serve --adapter SPEC` serves any
in-process adapter (conformance/serve.py), and `cases.case_from_json` rebuilds a Case from the JSON.

Isolation, per case:
  * no answer within `timeout` seconds: the process (its whole process group) is killed, the case is
    TIMEOUT, and the next case starts a fresh process;
  * the process exits or closes stdout: the case is CRASH, the next case starts a fresh process;
  * a line that is not a JSON object (bare NaN / Infinity tokens included: non-finite numbers are strings):
    the process is killed, the case is ERROR (protocol violation);
  * hello waits `startup_timeout` seconds (--startup-timeout): by default the per-case timeout when one is
    given, else 120 s;
  * circuit breaker: after `max_crashes` consecutive cases that lost the process (crash, timeout or protocol
    violation) it is not started again and every remaining case is CRASH at once.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from conformance.adapters.base import Adapter, Unsupported
from conformance.cases import case_to_json
from conformance.model import AdapterInfo, Case, Status, Trace, declaration_problem
from conformance.schemas import protocol_problem

PROTOCOL_VERSION = 1
DEFAULT_TIMEOUT = 30.0  # seconds per case
# Seconds a fresh process may take to answer hello when no timeout is given (importing torch can be slow).
# A timeout given by the user (--timeout) applies to hello too: a user who says "5 s" is not kept waiting 120.
DEFAULT_STARTUP_TIMEOUT = 120.0
DEFAULT_MAX_CRASHES = 3
STDERR_LINES = 20  # last stderr lines kept for crash reports
STDERR_SETTLE = 10.0  # seconds a crash report waits for the stderr reader to take an ended process's last lines
STDERR_LINE_BYTES = 1000  # each kept stderr line is cut here (the rest of a longer line is read and dropped)
# The longest answer line read, in bytes (--max-answer-bytes). The largest trace of the suite's cases is about
# 0.2 MB of JSON; a longer line than this is refused (ERROR) rather than grown in memory without bound.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
_READ_BYTES = 65536
# While waiting for an answer, how often the harness checks that the process it started is still running: a
# process that exits while a child it left behind holds stdout open would otherwise look like a hang.
_POLL_SECONDS = 0.05
# After the process exits, how long lines it wrote may still take to come through the pipe.
_EXIT_GRACE_SECONDS = 0.5

_EOF = object()
_TOO_LONG = object()  # the answer line went past max_answer_bytes


class _Unfinished(str):
    """The stream's last line had no newline: the process ended part-way through writing it."""


class TransportError(RuntimeError):
    """A case could not be run out of process. `.status` is what runner.run_case records for the case;
    `.what` names the problem in the result's detail - a transport problem is not something the
    implementation raised, and is never reported as if it were."""

    status = Status.ERROR
    what = "the adapter process failed"


class AdapterTimeout(TransportError):
    status = Status.TIMEOUT
    what = "timeout"


class AdapterCrash(TransportError):
    status = Status.CRASH
    what = "the adapter process crashed"
    stderr: tuple[str, ...] = ()  # the process's last stderr lines, where it said why it ended


SERVE_SAYS = "conformance.serve: "  # how `python -m conformance.serve` prefixes why it could not load an adapter


class ProtocolError(TransportError):
    """The adapter answered something that is not a protocol message."""

    what = "the adapter's answer was malformed"


class RemoteError(TransportError):
    """The adapter answered {"error": ...}: it could not run the case."""

    what = "the adapter answered an error"


class SubprocessAdapter(Adapter):
    """An adapter in another process. `command` is a shell-like string (split with shlex, no shell) or an
    argv list. The process is started and greeted at construction, so `info` is known at once; a process
    that cannot answer hello makes construction fail (a configuration error, exit 2 in the CLI)."""

    def __init__(
        self,
        command: str | Sequence[str],
        timeout: float | None = None,
        max_crashes: int = DEFAULT_MAX_CRASHES,
        startup_timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_answer_bytes: int | None = None,
    ) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("empty command")
        self.command = command if isinstance(command, str) else shlex.join(self.argv)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        if startup_timeout is None:  # the documented rule (docs/spec.md, --timeout's help)
            startup_timeout = DEFAULT_STARTUP_TIMEOUT if timeout is None else self.timeout
        self.startup_timeout = float(startup_timeout)
        self.max_crashes = max(1, int(max_crashes))
        self.max_answer_bytes = DEFAULT_MAX_ANSWER_BYTES if max_answer_bytes is None else int(max_answer_bytes)
        if self.max_answer_bytes < 1:
            raise ValueError(f"max_answer_bytes must be at least 1, got {max_answer_bytes!r}")
        self.env = None if env is None else {**os.environ, **env}
        self.cwd = cwd
        self.starts = 0  # processes started so far (restarts included)
        self.consecutive_losses = 0
        self.breaker_open = False
        self._proc: subprocess.Popen | None = None
        # What the stdout reader thread delivers: lists of lines (all the complete lines of one read), _EOF or
        # _TOO_LONG. Lines of one read arrive together, so two lines written at once are seen at once.
        self._lines: queue.Queue = queue.Queue()
        self._pending: collections.deque = collections.deque()  # lines delivered, not yet taken
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.info: AdapterInfo = self._start()

    # --- the Adapter interface ----------------------------------------------------------------

    def trace(self, case: Case) -> Trace:
        if self.breaker_open:
            raise AdapterCrash(
                f"circuit breaker open: the process was lost on {self.consecutive_losses} consecutive cases; "
                "not started again"
            )
        try:
            if not self.alive:
                self._start()
            reply = self._request({"op": "trace", "case": case_to_json(case)}, self.timeout)
            trace = self._parse_trace(reply)
        except (AdapterTimeout, AdapterCrash, ProtocolError) as exc:
            self._lost(exc)
            raise
        self.consecutive_losses = 0
        return trace

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()  # end of stdin: a well-behaved adapter exits
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        _kill(proc)

    def __enter__(self) -> SubprocessAdapter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- process management -------------------------------------------------------------------

    def _start(self) -> AdapterInfo:
        self._discard()
        self._stderr.clear()
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,  # bytes, read by the pump threads as they come (no line buffering to hide a line)
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own process group: a kill reaches the children of a wrapper script
            )
        except OSError as exc:
            raise AdapterCrash(f"cannot start {self.command!r}: {exc}") from None
        self.starts += 1
        self._proc = proc
        self._lines = queue.Queue()
        self._pending = collections.deque()
        threading.Thread(target=_pump, args=(proc.stdout, self._lines.put, True, self.max_answer_bytes),
                         daemon=True).start()
        self._stderr_reader = threading.Thread(target=_pump, daemon=True,
                                               args=(proc.stderr, self._stderr.extend, False, STDERR_LINE_BYTES))
        self._stderr_reader.start()
        reply = self._request({"op": "hello", "protocol": PROTOCOL_VERSION}, self.startup_timeout, "hello")
        if "error" in reply:
            self._discard()
            raise RemoteError(f"hello refused: {reply['error']}")
        if reply.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            self._discard()
            raise ProtocolError(f"speaks protocol {reply['protocol']!r}, this harness speaks {PROTOCOL_VERSION}")
        # Validated before a word of it is believed: "schedulers": "StepLR" would otherwise be read as a set of
        # characters, a tolerance of "inf" as float("inf") (docs/spec.md, "Declarations").
        problem = protocol_problem("adapterInfo", reply)
        info = None
        if problem is None:
            try:
                info = AdapterInfo.from_json(reply)
            except (KeyError, TypeError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                problem = declaration_problem(info)
        if problem is not None:
            self._discard()
            raise ProtocolError(f"the hello answer is not a valid declaration: {problem}")
        return info

    def _request(self, message: dict, timeout: float, what: str = "the case") -> dict:
        proc = self._proc
        # One request, one line: a line that came while no request was pending would be read as the answer to
        # this one (each case graded against the previous case's trace).
        stray = self._next(0.0) if self._pending or not self._lines.empty() else None
        if stray is _EOF:
            code = _wait(proc)
            self._discard()
            raise AdapterCrash(f"process {_describe_exit(code)} before {what} was sent{self._stderr_tail()}")
        if stray is not None:
            self._discard()
            shown = "a line longer than the limit" if stray is _TOO_LONG else repr(stray.strip()[:80])
            raise ProtocolError(f"wrote a line no request asked for ({shown}) before {what} was sent: one answer "
                                "line per request; process killed")
        try:
            data = memoryview((json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n").encode())
            while data:  # an unbuffered pipe may take a large request in parts
                data = data[proc.stdin.write(data):]
        except (BrokenPipeError, OSError, ValueError):
            pass  # the process is gone; reading reports how it ended
        line = self._answer(proc, timeout, what)
        if line is _EOF:
            code = _wait(proc)
            self._discard()
            crash = AdapterCrash(f"process {_describe_exit(code)} before answering {what}{self._stderr_tail()}")
            crash.stderr = tuple(self._stderr_lines())
            raise crash
        if isinstance(line, _Unfinished):
            code = _wait(proc)
            self._discard()
            raise AdapterCrash(f"process {_describe_exit(code)} part-way through its answer to {what} (a line with "
                               f"no newline: {line.strip()[:80]!r}){self._stderr_tail()}")
        if line is _TOO_LONG:
            self._discard()
            raise ProtocolError(f"answered a line longer than {self.max_answer_bytes} bytes (the limit: "
                                "--max-answer-bytes); process killed")
        try:
            reply = loads_strict(line)
        except ValueError as exc:
            self._discard()
            raise ProtocolError(f"answered a line that is not a JSON object ({exc}): {line.strip()[:120]!r}; "
                                "process killed") from None
        if not isinstance(reply, dict):
            self._discard()
            raise ProtocolError(f"answered a line that is not a JSON object: {line.strip()[:120]!r}; process killed")
        return reply

    def _answer(self, proc: subprocess.Popen, timeout: float, what: str):
        """The next line from the process (or _EOF / _TOO_LONG) within `timeout` seconds. The process exiting
        without an answer is a crash even while a process it started keeps its stdout open."""
        deadline = time.monotonic() + timeout
        exited_at = None
        while True:
            now = time.monotonic()
            wait = deadline - now
            if exited_at is not None:
                wait = min(wait, exited_at + _EXIT_GRACE_SECONDS - now)
            try:
                return self._next(max(0.0, min(wait, _POLL_SECONDS)))
            except queue.Empty:
                pass
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            elif exited_at is not None and now >= exited_at + _EXIT_GRACE_SECONDS:
                code = proc.poll()
                self._discard()
                raise AdapterCrash(f"process {_describe_exit(code)} before answering {what}, leaving a process "
                                   f"that holds its stdout open (killed){self._stderr_tail()}")
            if now >= deadline:
                self._discard()
                raise AdapterTimeout(f"no answer to {what} within {timeout:g}s; process killed")

    def _next(self, timeout: float):
        """The next line delivered by the reader (or _EOF / _TOO_LONG); queue.Empty after `timeout` seconds."""
        if not self._pending:
            item = self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait()
            if not isinstance(item, list):
                return item
            self._pending.extend(item)
        return self._pending.popleft()

    def _parse_trace(self, reply: dict) -> Trace:
        if "error" in reply:
            raise RemoteError(str(reply["error"]))
        if "unsupported" in reply:
            raise Unsupported(str(reply["unsupported"]))
        if "trace" not in reply:
            self._discard()
            raise ProtocolError(f"answer has neither 'trace' nor 'error': {sorted(reply)}")
        try:
            return Trace.from_json(reply["trace"])
        except (TypeError, ValueError, AttributeError) as exc:
            # The process is fine; the trace is malformed. Not a lost process.
            raise RemoteError(f"malformed trace ({type(exc).__name__}: {exc})") from None

    def _lost(self, exc: TransportError) -> None:
        self._discard()
        self.consecutive_losses += 1
        if self.consecutive_losses >= self.max_crashes:
            self.breaker_open = True
            exc.args = (f"{exc.args[0]}; {self.consecutive_losses} in a row: circuit breaker open, "
                        "remaining cases are not run",)

    def _discard(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill(proc)

    def _stderr_lines(self) -> list[str]:
        """The process's last stderr lines, once its reader has read what the ended process wrote: the reader is a
        thread, and the end of stdout can be seen before it took the lines that say why (a child's one-line
        explanation was missing from a crash report on a loaded machine). A grandchild holding stderr open only
        delays this by STDERR_SETTLE seconds."""
        reader = getattr(self, "_stderr_reader", None)
        if reader is not None:
            reader.join(STDERR_SETTLE)
        return [line.rstrip() for line in list(self._stderr) if line.strip()]

    def _stderr_tail(self) -> str:
        lines = self._stderr_lines()
        return f" (stderr: {' | '.join(lines[-3:])[-300:]})" if lines else ""


def _reject_constant(token: str):
    raise ValueError(f"bare {token} is not JSON; send non-finite numbers as the strings \"nan\", \"inf\", \"-inf\"")


def loads_strict(text: str):
    """json.loads, but strict JSON: Python's json accepts the bare tokens NaN, Infinity and -Infinity, which
    JSON (RFC 8259) and the protocol schema do not; they raise ValueError here. Nesting deeper than Python's
    recursion limit is a ValueError too (json raises RecursionError)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply to be a protocol message") from None


def _pump(stream, put, eof: bool, limit: int) -> None:
    """Forward the lines of a pipe (bytes, decoded as UTF-8 with replacement) until it closes - the reader
    threads, so reads can time out - holding at most `limit` bytes of an unfinished line. Each read's complete
    lines are `put` as one list. Answer lines (`eof`): a longer line puts _TOO_LONG and reading stops (the
    harness kills the process); at the end, _EOF. Stderr lines: a longer line is cut, the rest dropped."""
    partial = b""
    dropping = False  # in the rest of a stderr line that was cut
    try:
        while True:
            chunk = os.read(stream.fileno(), _READ_BYTES)
            if not chunk:
                break
            *complete, partial = (partial + chunk).split(b"\n")
            lines = []
            for index, raw in enumerate(complete):
                if dropping and index == 0:
                    dropping = False
                    continue
                if len(raw) > limit:
                    if eof:
                        put(lines + [_TOO_LONG])
                        return
                    raw = raw[:limit] + b" [cut]"
                lines.append((raw + b"\n").decode("utf-8", "replace"))
            if len(partial) > limit:
                if eof:
                    put(lines + [_TOO_LONG]) if lines else put(_TOO_LONG)
                    return
                if not dropping:
                    lines.append((partial[:limit] + b" [cut]").decode("utf-8", "replace"))
                dropping, partial = True, b""
            if lines:
                put(lines)
        if partial and not dropping:  # a last line without its newline
            text = partial.decode("utf-8", "replace")
            put([_Unfinished(text) if eof else text])
    except (OSError, ValueError):
        pass
    finally:
        if eof:
            put(_EOF)
        try:
            stream.close()
        except (OSError, ValueError):
            pass


def _kill(proc: subprocess.Popen) -> None:
    """Kill the process and its whole process group - also when the process itself has already exited: what
    it started (a wrapper script's child) must not outlive the run."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group id is its pid
        except (ProcessLookupError, PermissionError, OSError):
            pass  # no process left in the group
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    _wait(proc)
    try:
        proc.stdin.close()
    except (OSError, ValueError):
        pass  # BrokenPipeError flushing to a dead process


def _wait(proc: subprocess.Popen) -> int | None:
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def python_command(adapter_spec: str, python: str | None = None) -> list[str]:
    """The argv serving an in-process adapter spec out of process with `python` (default: this one)."""
    return [python or sys.executable, "-m", "conformance.serve", "--adapter", adapter_spec]
