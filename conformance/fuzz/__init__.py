"""`lr-conformance fuzz`: differential property-based testing of a candidate implementation against a
reference (by default the installed torch), with hypothesis.

Pipeline, one module per stage:
  strategies.py    hypothesis strategies over the whole case language -> case data -> `Case` (cases.parse_case)
  differential.py  one case on both implementations: same runner, same compare; skip what either cannot express
  search.py        the hypothesis search within a budget, shrinking the first divergence to a minimal case
  emit.py          a finding as a ready-to-paste [[case]] TOML block (and --record's staging file)
  command.py       the `fuzz` subcommand: options, exit codes, the printed report

hypothesis is needed only here: `pip install 'lr-conformance[fuzz]'`.
"""
