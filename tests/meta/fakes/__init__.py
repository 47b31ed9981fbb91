"""Deliberately broken adapters that test the harness: each must be classified exactly (status and first
divergence), see tests/meta/test_fake_adapters.py.

broken_torch.py   in-process fakes: the torch reference adapter with one bug each
process.py        process-level fakes (hang, kill, noisy stdout) served by `python -m conformance.serve`;
                  torch-free, so that restarting them costs milliseconds, not a torch import
faults.py         in-process faults (sys.exit anywhere, stdout noise, not a Trace, lists of different lengths,
                  os._exit, a hang, a 1-ulp drift hiding a jump): torch-free, in process and with --isolate
symptoms.py       torch 2.13 with a warning SequentialLR (and StepLR) gains in every shape: fuzz's symptom matching
halving_reference.py  not broken: a torch-free stand-in for the reference, for `regen` in scratch copies
"""
