"""tools/torch_parity.py, the map of torch's own test_lrscheduler.py tests to the cases that pin them: the
committed docs/torch-parity.md is what the tool writes from the committed mapping (offline, from the test names
recorded there); a mapping naming a case id that does not exist is exit 2 with one line naming the mapping's
file and line; a torch test without a mapping is listed (exit 1); and the parser finds test methods in classes
and parametrized tests, as unittest and torch's instantiate_parametrized_tests would."""

from __future__ import annotations

import shutil
import textwrap

import pytest
from helpers import load_tool

torch_parity = load_tool("torch_parity", "torch_parity")

pytestmark = pytest.mark.release_independent

FAKE_TESTS = textwrap.dedent('''
    class TestFake(TestCase):
        class Net(torch.nn.Module):
            def test_inside_a_helper_class(self): ...

        def setUp(self): ...
        def _test(self, scheduler): ...

        def test_step_lr(self): ...

        @parametrize("LRClass", [StepLR, partial(ExponentialLR, gamma=0.9)])
        @parametrize("weights_only", [True, False])
        def test_state_dict_load(self, LRClass, weights_only): ...

        @common_utils.parametrize("T_mult", range(3))
        def test_restarts(self, T_mult): ...

    def test_at_module_level(): ...
''')

ONE_ENTRY = '[tests.TestFake.test_step_lr]\ncases = ["steplr/gamma-half-step3"]\n'


@pytest.fixture
def scratch(tmp_path):
    """A copy of the committed mapping and map, for runs that change them."""
    mapping, out = tmp_path / "mapping.toml", tmp_path / "torch-parity.md"
    shutil.copyfile(torch_parity.MAPPING, mapping)
    shutil.copyfile(torch_parity.OUT, out)
    return mapping, out


def test_the_committed_map_is_up_to_date(capsys):
    assert torch_parity.main(["--check"]) == 0, capsys.readouterr().err


def test_check_fails_on_a_map_edited_by_hand(scratch, capsys):
    mapping, out = scratch
    out.write_text(out.read_text(encoding="utf-8").replace("| pinned |", "| partly |", 1), encoding="utf-8")
    assert torch_parity.main(["--check", "--mapping", str(mapping), "--out", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_an_unknown_case_id_is_exit_2_with_one_line_naming_file_and_line(scratch, capsys):
    mapping, out = scratch
    text = mapping.read_text(encoding="utf-8")
    assert '"steplr/gamma-half-step3"' in text
    mapping.write_text(text.replace('"steplr/gamma-half-step3"', '"steplr/no-such-case"', 1), encoding="utf-8")
    line = 1 + next(n for n, row in enumerate(mapping.read_text(encoding="utf-8").splitlines())
                    if "steplr/no-such-case" in row)
    assert torch_parity.main(["--mapping", str(mapping), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"{mapping}:{line}: ") and "'steplr/no-such-case'" in err, err


def test_an_unmapped_test_is_listed_and_recorded(tmp_path, capsys):
    tests, mapping, out = tmp_path / "test_lrscheduler.py", tmp_path / "mapping.toml", tmp_path / "map.md"
    tests.write_text(FAKE_TESTS, encoding="utf-8")
    mapping.write_text(ONE_ENTRY, encoding="utf-8")
    code = torch_parity.main(["--tests", str(tests), "--ref", "v9.9.9", "--mapping", str(mapping), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.splitlines()[1:] == ["TestFake.test_state_dict_load", "TestFake.test_restarts", "test_at_module_level"]
    assert not out.exists()
    recorded = torch_parity.load_mapping(mapping)
    assert recorded.ref == "v9.9.9"
    assert [test.key for test in recorded.tests] == ["TestFake.test_step_lr", *err.splitlines()[1:]]


def test_a_complete_mapping_writes_the_map_with_its_counts(tmp_path):
    tests, mapping, out = tmp_path / "test_lrscheduler.py", tmp_path / "mapping.toml", tmp_path / "map.md"
    tests.write_text("class TestFake:\n    def test_step_lr(self): ...\n    def test_gc(self): ...\n", encoding="utf-8")
    mapping.write_text(ONE_ENTRY + '[tests.TestFake.test_gc]\nreason = "gc only"\ngap = "garbage collection"\n',
                       encoding="utf-8")
    assert torch_parity.main(["--tests", str(tests), "--ref", "v9.9.9", "--mapping", str(mapping),
                              "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "**v9.9.9**" in text and "- tests read: 2 " in text and "- pinned: 1\n" in text, text
    assert "- not expressible: 1\n  - garbage collection: 1\n" in text, text
    assert "| `TestFake.test_gc` | not expressible |  | garbage collection: gc only |" in text, text
    assert torch_parity.main(["--check", "--mapping", str(mapping), "--out", str(out)]) == 0


def test_a_mapping_for_a_test_the_source_does_not_have_is_exit_2(tmp_path, capsys):
    tests, mapping = tmp_path / "test_lrscheduler.py", tmp_path / "mapping.toml"
    tests.write_text("class TestFake:\n    def test_other(self): ...\n", encoding="utf-8")
    mapping.write_text(ONE_ENTRY, encoding="utf-8")
    assert torch_parity.main(["--tests", str(tests), "--ref", "v1", "--mapping", str(mapping),
                              "--out", str(tmp_path / "map.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{mapping}:1: [tests.TestFake.test_step_lr] is not a test of ") and err.count("\n") == 1


def test_the_parser_finds_methods_in_classes_and_parametrized_tests():
    found = torch_parity.read_tests(FAKE_TESTS, "fake.py")
    assert found == (
        torch_parity.TorchTest("TestFake.test_step_lr", ""),
        torch_parity.TorchTest("TestFake.test_state_dict_load", "LRClass (2), weights_only (2)"),
        torch_parity.TorchTest("TestFake.test_restarts", "T_mult"),
        torch_parity.TorchTest("test_at_module_level", ""),
    )


def test_a_test_file_that_is_not_python_is_exit_2_with_its_line(tmp_path, capsys):
    tests = tmp_path / "test_lrscheduler.py"
    tests.write_text("class TestFake:\n    def test_x(self)\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text(ONE_ENTRY, encoding="utf-8")
    assert torch_parity.main(["--tests", str(tests), "--ref", "v1", "--mapping", str(tmp_path / "m.toml")]) == 2
    assert capsys.readouterr().err.startswith(f"{tests}:2: not Python")
