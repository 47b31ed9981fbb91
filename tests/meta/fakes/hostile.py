"""A `cmd:` adapter that corrupts its answers one way at a time, as a hostile or merely broken implementation
would (tests/meta/test_hostile.py asserts what the harness makes of each):

    python tests/meta/fakes/hostile.py MODE

It answers with the torch-free StepLR of fakes/faults.py (correct on StepLR with gamma 0.5, so `honest`
passes), then applies MODE to the hello answer or to each trace answer. Modes that exit or hang do so at the
first trace request, so hello succeeds and each case shows how the harness contains them.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakes.faults import StepAdapter  # noqa: E402

from conformance import serve  # noqa: E402

MODE = sys.argv[1]


def hello(reply: dict) -> dict | str:
    declared = {
        "schedulers-string": {"schedulers": "StepLR"},
        "mirrors-number": {"mirrors": 5},
        "mirrors-dict": {"mirrors": {"torch": "2.13.0"}},
        "tolerance-inf-string": {"tolerance": {"rel": "inf", "abs": 0, "reason": "wide"}},
        "tolerance-nan-string": {"tolerance": {"rel": "nan", "abs": 0, "reason": "wide"}},
        "tolerance-huge-no-reason": {"tolerance": {"rel": 1e300, "abs": 0}},
        "tolerance-called-bit-exact": {"tolerance": {"rel": 1e-3, "abs": 0, "reason": "bit-exact"}},
        "tolerance-negative": {"tolerance": {"rel": -1e-3, "abs": 0, "reason": "negative"}},
        "name-empty": {"name": ""},
        "features-unknown": {"features": ["state_dict", "time_travel"]},
    }.get(MODE)
    return {**reply, **declared} if declared else reply


def answer(reply: dict) -> str | None:
    """The line(s) to write for one trace answer (without the final newline), or None after exiting."""
    honest = json.dumps(reply, separators=(",", ":"))
    trace = reply.get("trace")
    if MODE == "duplicate-observations":  # each observation twice: a wrong copy first, then the right one
        wrong = [[o[0], o[1], 12345.0, *o[3:]] for o in trace["observations"]]
        return json.dumps({"trace": {**trace, "observations": wrong + trace["observations"]}})
    if MODE == "duplicate-right-then-wrong":
        wrong = [[o[0], o[1], 12345.0, *o[3:]] for o in trace["observations"]]
        return json.dumps({"trace": {**trace, "observations": trace["observations"] + wrong}})
    if MODE == "two-lines":  # the answer, and the same answer again, in one write
        return honest + "\n" + honest
    if MODE == "stray-line":  # the answer, then a line of noise
        return honest + "\n" + '{"log": "debug output on stdout"}'
    if MODE == "orphan":  # exit, leaving a child that holds stdout open (and would sleep for a minute)
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        os._exit(3)
    if MODE == "long-line":  # one answer line of 100 MB
        sys.stdout.write('{"trace": {"observations": [], "events": [], "pad": "' + "x" * (100 * 2**20))
        sys.stdout.write('"}}\n')
        sys.stdout.flush()
        return None
    if MODE == "endless-line":  # a line that never ends
        chunk = "x" * 2**20
        while True:
            sys.stdout.write(chunk)
            sys.stdout.flush()
    if MODE == "stderr-flood":  # 64 MB on stderr without a newline, then the right answer
        chunk = "e" * 2**20
        for _ in range(64):
            sys.stderr.write(chunk)
        sys.stderr.flush()
        return honest
    if MODE == "deep-json":
        return "[" * 100000 + "]" * 100000
    if MODE == "garbage":
        return "this is not json"
    if MODE == "bare-nan":
        return honest.replace(str(trace["observations"][0][2]), "NaN", 1)
    if MODE == "string-number":
        trace["observations"][0][2] = str(trace["observations"][0][2])
        return json.dumps(reply)
    if MODE == "huge-number":
        return honest.replace(str(trace["observations"][0][2]), "1e309", 1)
    if MODE == "fewer-steps":
        return json.dumps({"trace": {**trace, "observations": trace["observations"][:-1]}})
    if MODE == "extra-step":
        last = trace["observations"][-1]
        return json.dumps({"trace": {**trace, "observations": trace["observations"] + [[last[0] + 1, *last[1:]]]}})
    if MODE == "array-answer":
        return "[1, 2, 3]"
    if MODE == "invalid-utf8":
        sys.stdout.flush()
        os.write(1, b'{"trace": {"observations": [], "events": [["\xff\xfe", 0]]}}\n')
        return None
    if MODE == "half-line-exit":
        sys.stdout.write(honest[: len(honest) // 2])
        sys.stdout.flush()
        os._exit(1)
    if MODE == "exit":
        os._exit(4)
    if MODE == "hang":
        time.sleep(60)
    return honest


def main() -> int:
    adapter = StepAdapter()
    for line in sys.stdin:
        request = json.loads(line)
        reply = serve.handle(adapter, request)
        if request.get("op") == "hello":
            text = json.dumps(hello(reply))
        else:
            text = answer(reply)
            if text is None:
                continue
        sys.stdout.write(text + "\n")  # one write: lines written together arrive together
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
