"""lr-conformance: golden traces of torch.optim.lr_scheduler and a harness that grades any implementation.

The pipeline, one module each:
    cases (golden/cases/*.toml) -> runner (step protocols) -> adapters -> traces
    -> compare (with golden/traces/*.csv) -> results -> report
"""

__version__ = "0.1.0"

# Bumped whenever the generator changes what a trace contains (columns, event format,
# protocol semantics). Recorded in the manifest so a golden made by another generator is noticed.
TRACE_FORMAT = 1
