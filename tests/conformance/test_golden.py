"""The conformance tests: every case, run through the adapter under test (default: the installed torch),
compared with its golden trace. Kept apart from tests/meta/, which tests the harness itself."""

from conformance.pytest_plugin import check_case


def test_case_matches_golden(conformance_case, conformance_outcomes):
    check_case(conformance_case, conformance_outcomes)
