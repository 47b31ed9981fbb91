"""The fuzz search as a pytest-collected hypothesis test, for engines that run many of them: HypoFuzz's
coverage-guided workers (`hypothesis fuzz -n 2`), CI shards, hypothesis' shared example databases.

    LR_CONFORMANCE_FUZZ_ARGS="--adapter paddle64 --scheduler ReduceLROnPlateau --expectations paddle-float64" \\
        hypothesis fuzz -n 2 -- -p no:cacheprovider --pyargs conformance.fuzz.campaign

`LR_CONFORMANCE_FUZZ_ARGS` holds options of `lr-conformance fuzz`, checked exactly as that command checks
them (fuzz/command.py `prepared`: adapters, scope, the reference against the goldens, known differences
diagnosed) when pytest collects this module; a problem makes the collection fail with every problem, one
line each. What the search is, is the command's: each drawn case runs on both implementations
(differential.py), a divergence a known difference accounts for is counted, not failed (known.py), and a
divergence fails the test with the [[case]] block to paste. The budget and the seed are the engine's, not
the options': `--max-seconds`, `--max-examples`, `--seed`, `--record` and `--keep-going` are ignored here.

Where the examples live: `LR_CONFORMANCE_FUZZ_DATABASE`, a directory (the workers of one machine share it: a
finding of one is replayed by all, and by a later `pytest --pyargs conformance.fuzz.campaign`, which shrinks it
and prints it) or `redis://host:port/db` (hypothesis' RedisExampleDatabase: workers on several machines;
needs the `redis` package). Default: a directory per pair of adapters in the fuzz cache
(search.database_dir, under `campaign/`).

`LR_CONFORMANCE_FUZZ_EXAMPLES`: the examples of a plain `pytest` run of the module (default 1000; HypoFuzz
runs until it is stopped). `LR_CONFORMANCE_FUZZ_LOG`, a directory: each process appends every case it runs,
with the time, to `<pid>.jsonl` there - what tools/fuzz_campaign.py counts (examples/s per number of workers) and replays under
coverage (the branches of torch's lr_scheduler.py each way of searching reached).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shlex
import time
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.cases import parse_case
from conformance.fuzz import command, differential, emit, known, search, strategies
from conformance.fuzz.differential import Kind

ARGS = "LR_CONFORMANCE_FUZZ_ARGS"
DATABASE = "LR_CONFORMANCE_FUZZ_DATABASE"
LOG = "LR_CONFORMANCE_FUZZ_LOG"
EXAMPLES = "LR_CONFORMANCE_FUZZ_EXAMPLES"  # examples of a plain pytest run (HypoFuzz runs until stopped)
SPLIT = "LR_CONFORMANCE_FUZZ_SPLIT"  # "none": one test, not one per top-level scheduler


class CampaignError(Exception):
    """The options in LR_CONFORMANCE_FUZZ_ARGS cannot make a campaign (every problem, one line each)."""


def options(text: str | None) -> argparse.Namespace:
    """`text` parsed as `lr-conformance fuzz` options."""
    if not text:
        raise CampaignError(f"{ARGS} is not set: it holds the `lr-conformance fuzz` options of the campaign, "
                            f"at least --adapter (for example {ARGS}='--adapter my_port.py')")
    parser = argparse.ArgumentParser(prog="lr-conformance", exit_on_error=False)
    command.add_parser(parser.add_subparsers(dest="command"))
    try:
        return parser.parse_args(["fuzz", *shlex.split(text)])
    except (argparse.ArgumentError, SystemExit, ValueError) as exc:
        raise CampaignError(f"{ARGS}: {exc}") from None


def database(spec: str | None, reference: str, candidate: str):
    """The example database the engine's workers share (module docstring)."""
    from hypothesis.database import DirectoryBasedExampleDatabase

    if spec and spec.startswith("redis://"):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise CampaignError(f"{DATABASE}={spec}: a Redis database needs the redis package "
                                "(pip install redis)") from None
        return RedisExampleDatabase(redis.Redis.from_url(spec), key_prefix=b"lr-conformance-fuzz:")
    return DirectoryBasedExampleDatabase(str(Path(spec) if spec else
                                             search.database_dir(reference, candidate) / "campaign"))


class _Log:
    """Every case run, appended with its time to <dir>/<pid>.jsonl (LR_CONFORMANCE_FUZZ_LOG), or nothing."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        self.file, self.pid = None, None

    def __call__(self, data: dict, kind: Kind) -> None:
        if self.directory is None:
            return
        if self.pid != os.getpid():  # opened in the worker that writes: HypoFuzz forks its workers after import
            self.directory.mkdir(parents=True, exist_ok=True)
            self.file, self.pid = open(self.directory / f"{os.getpid()}.jsonl", "a", encoding="utf-8",
                                       buffering=1), os.getpid()
            atexit.register(self.file.close)
        self.file.write(json.dumps({"t": time.time(), "kind": kind.value, "case": data}) + "\n")


def _campaign():
    from hypothesis import configuration

    # hypothesis' own files (its constants cache) go to the fuzz cache, as for `fuzz`: not .hypothesis/ in the cwd
    configuration.set_hypothesis_home_dir(search.cache_dir())
    args = options(os.environ.get(ARGS))
    ready, problems = command.prepared(args)
    if ready is None:
        raise CampaignError("\n".join(f"lr-conformance: {problem}" for problem in problems))
    return args, ready


_args, _ready = _campaign()
atexit.register(lambda: _ready.close())  # the reference's process, when it has one
_info = differential.grading_info(_ready.reference.info, _ready.candidate.info)
_owner = os.getpid()


def _pair_here():
    """The adapters of this process. HypoFuzz forks its workers from the process that collected the module: a
    reference in a process of its own would then be one pipe written by every worker at once, so a worker
    opens its own (the options were checked at collection; the reference is not checked again)."""
    global _ready, _owner
    if os.getpid() != _owner:
        args = argparse.Namespace(**{**vars(_args), "unchecked_reference": True})
        ready, problems = command.prepared(args)
        if ready is None:
            raise CampaignError("\n".join(f"lr-conformance: {problem}" for problem in problems))
        _ready, _owner = ready, os.getpid()
    return _ready
_log = _Log(os.environ.get(LOG))
_pair = f"{command._label(_ready.candidate.info)} vs {command._label(_ready.reference.info)}"


# The database goes in a profile, not in the test's settings: HypoFuzz fuzzes only tests whose database is the
# default one (it leaves out the others as "differing_database").
settings.register_profile("lr-conformance-fuzz",
                          database=database(os.environ.get(DATABASE), _args.reference, _args.adapter))
settings.load_profile("lr-conformance-fuzz")


# One test per top-level scheduler of the scope, parametrized by the pair as well:
# - HypoFuzz hands tests to workers, and with fewer tests than workers some get none (25.11.1's round-robin
#   `nodeids[i + ix :: n]` never wraps round: with one test, `-n 2` fuzzed with one worker, measured in
#   docs/fuzzing.md); with one per scheduler both workers fuzz, and HypoFuzz spends its time where coverage grows;
# - the examples of each get a database key of their own, and the same one under HypoFuzz and under pytest:
#   HypoFuzz 25.11 keys every test by its pytest node id as well, while hypothesis' pytest plugin does so for
#   parametrized tests only - unparametrized, HypoFuzz's findings would never be replayed by `pytest`. The node
#   id depends on the directory pytest runs in: replay from where the campaign ran.
# LR_CONFORMANCE_FUZZ_SPLIT=none: one test over the whole scope, drawn as `fuzz` draws - for a plain pytest run
# with a time limit, which would otherwise spend it all on the first scheduler's test (tools/fuzz_campaign.py).
_STRATEGIES = ({"any": strategies.case_data(_ready.scope)} if os.environ.get(SPLIT) == "none" else
               {name: strategies.case_data(replace(_ready.scope, top=frozenset({name})))
                for name in sorted(set(_ready.scope.tops))})


# Cases are slow to run and large to draw; the other health checks stay (HypoFuzz leaves out a test that
# suppresses nested_given, as a test that may nest @given).
@settings(deadline=None, max_examples=int(os.environ.get(EXAMPLES, 1000)),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.large_base_example])
@pytest.mark.parametrize("pair", [_pair.replace(" ", "-")])
@pytest.mark.parametrize("top", sorted(_STRATEGIES))
@given(drawn=st.data())
def test_the_candidate_agrees_with_the_reference(top, pair, drawn):
    data = drawn.draw(_STRATEGIES[top], label="case")
    ready = _pair_here()
    verdict = differential.check(parse_case(data, source="<fuzz>"), ready.reference, ready.candidate, _info)
    if verdict.kind is Kind.DIVERGENT and ready.listed:
        if known.explaining(ready.listed, verdict, _info,
                            lambda case: differential.check(case, ready.reference, ready.candidate, _info)):
            verdict = differential.Verdict(Kind.KNOWN, verdict.case, "explained")
    _log(data, verdict.kind)
    if verdict.kind is Kind.DIVERGENT:
        case, what = emit.finding(verdict, _pair)
        raise AssertionError(f"DIVERGENCE  {case.id}\n  what:   {verdict.reason}\n\n"
                             + emit.case_block(case, comments=[f"found by lr-conformance fuzz: {what}"]))
