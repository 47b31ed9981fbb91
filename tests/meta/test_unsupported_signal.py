"""`conformance.adapters.base.Unsupported`: an adapter that has the scheduler but not the case's configuration
raises it, from build() (inside the runner's step protocol) or from trace(); the case is UNSUPPORTED with the
adapter's reason, never a failure or an error."""

from __future__ import annotations

from helpers import HalvingAdapter, make_case, torch_store

from conformance import golden, runner
from conformance.adapters.base import StatefulAdapter, Unsupported
from conformance.adapters.torch_reference import TorchAdapter
from conformance.model import Status
from conformance.regenerate import regenerate

CASE = make_case("steplr/unsupported-signal", kwargs={"step_size": 2, "gamma": 0.5})


class RaisesInBuild(StatefulAdapter):
    def __init__(self) -> None:
        self.info = HalvingAdapter().info

    def build(self, case):
        raise Unsupported("gamma=0.5 has no equivalent here")


class RaisesInTrace(HalvingAdapter):
    def trace(self, case):
        raise Unsupported("not this one")


def test_unsupported_is_reported_with_its_reason(tmp_path):
    assert regenerate(TorchAdapter(), [CASE], torch_store(tmp_path / "traces"), out=lambda s: None) == 0
    store = golden.load(tmp_path / "traces")
    for adapter, reason in ((RaisesInBuild(), "gamma=0.5 has no equivalent here"), (RaisesInTrace(), "not this one")):
        outcome = runner.run_case(adapter, CASE, store)
        assert outcome.status is Status.UNSUPPORTED
        assert outcome.detail == f"halving: {reason}"
        assert not outcome.status.bad


def test_unsupported_crosses_the_subprocess_transport(tmp_path):
    """Behind `conformance.serve`, Unsupported is a reply of its own ({"unsupported": reason}), not an error."""
    import sys
    from pathlib import Path

    from conformance.transport import SubprocessAdapter

    fake = Path(__file__).parent / "fakes" / "unsupported.py"
    assert regenerate(TorchAdapter(), [CASE], torch_store(tmp_path / "traces"), out=lambda s: None) == 0
    store = golden.load(tmp_path / "traces")
    with SubprocessAdapter([sys.executable, "-m", "conformance.serve", "--adapter", str(fake)], timeout=60) as remote:
        outcome = runner.run_case(remote, CASE, store)
        assert outcome.status is Status.UNSUPPORTED
        assert outcome.detail == "no-half-gamma: gamma=0.5 has no equivalent here"
        assert remote.alive and remote.consecutive_losses == 0  # the process was not lost
