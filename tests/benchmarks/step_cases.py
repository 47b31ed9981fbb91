"""The configuration each scheduler's step cost is measured in: one existing case per scheduler, the first (the
most ordinary) of its family's file, chosen among those that build and run without an error on every tested torch
release 1.13.1 ... 2.15.0 (tests/meta/test_benchmark_tool.py checks that each builds and steps under the
installed torch). One 1-element parameter per group without a gradient, as in every case: SGD's step then
updates nothing, so what is measured is the bookkeeping of `optimizer.step(); scheduler.step()`."""

STEP_CASES = {
    "LambdaLR": "lambdalr/linear-warmup",
    "MultiplicativeLR": "multiplicativelr/gamma-095",
    "StepLR": "steplr/gamma-half-step3",
    "MultiStepLR": "multisteplr/milestones-2-5-8",
    "ConstantLR": "constantlr/defaults",
    "LinearLR": "linearlr/defaults",
    "ExponentialLR": "exponentiallr/gamma-09",
    "PolynomialLR": "polynomiallr/defaults",
    "CosineAnnealingLR": "cosineannealinglr/tmax-10",
    "ChainedScheduler": "chainedscheduler/constant-and-exponential",
    "SequentialLR": "sequentiallr/warmup-then-cosine",
    "ReduceLROnPlateau": "reducelronplateau/defaults-min-rel",
    "CyclicLR": "cycliclr/triangular",
    "CosineAnnealingWarmRestarts": "cosineannealingwarmrestarts/t0-5",
    "OneCycleLR": "onecyclelr/defaults-cos",
    "SWALR": "swalr/defaults",
}
# The optimizer alone (StepLR's case, no scheduler stepped): what every row above includes.
BASELINE = "optimizer.step() alone"
BASELINE_CASE = STEP_CASES["StepLR"]


def step_arguments(case) -> list[tuple]:
    """scheduler.step()'s arguments at each step of the case: the metric for ReduceLROnPlateau, else none."""
    return [(metric,) for metric in case.metrics] if case.metrics else [()] * case.steps
