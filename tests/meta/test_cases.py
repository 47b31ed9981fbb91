"""The case-file checker: schema errors are one line naming file, line and case; the real data is clean."""

import pytest

from conformance import cases, golden
from conformance.cases import CaseError

GOOD = '''
[defaults]
scheduler = "StepLR"
groups = [{ lr = 0.1 }]
steps = 4

[[case]]
id = "steplr/a"
why = "first"
kwargs = { step_size = 2 }
'''


def write(tmp_path, body, name="steplr.toml"):
    (tmp_path / name).write_text(body)
    return tmp_path


def test_the_committed_cases_load_and_have_unique_ids():
    loaded = cases.load_cases()
    assert len({c.id for c in loaded}) == len(loaded) > 0


def test_every_committed_case_has_a_consistent_golden():
    problems = golden.problems(golden.load(), cases.load_cases())
    assert problems == [], "\n".join(problems[:20])


def test_good_file_loads(tmp_path):
    (case,) = cases.load_cases(write(tmp_path, GOOD))
    assert case.id == "steplr/a" and case.scheduler.kwargs == {"step_size": 2} and case.source.endswith("steplr.toml")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('bogus = 1', "unknown keys ['bogus']"),
        ('protocol = "sideways"', "protocol 'sideways'"),
        ('protocol = "resume-state-dict"\nresume_at = 9', "0 < resume_at < steps"),
        ('metrics = [1, 2, 3, 4]', "'metrics'"),
        ('kwargs = { lr_lambda = { fn = "nope" } }', "unknown function 'nope'"),
        ('kwargs = { lr_lambda = { fn = "exponential" } }', "missing ['gamma']"),
        ('observe_momentum = "yes"', "'observe_momentum' must be a boolean"),
        ('observe_momentum = true\noptimizer = "Adagrad"', "'observe_momentum' needs an optimizer with momentum or betas"),
        ('observe_momentum = true\noptimizer = "Rprop"', "needs an optimizer with momentum or betas, not Rprop"),
        ('torch = "at least two"', "PEP 440"),
        ('torch = ">=banana"', "'torch' '>=banana' is not a PEP 440 specifier"),
        ('steps = 0', "'steps' must be a positive integer"),
        ('steps = 10000001', "'steps' = 10000001 is over the limit of 10000 (MAX_STEPS)"),
        ('groups = [' + '{ lr = 0.1 }, ' * 17 + ']', "'groups' has 17 param groups, over the limit of 16"),
        ('scheduler = "SequentialLR"\nkwargs = { milestones = [] }\nchildren = ['
         + '{ scheduler = "ConstantLR" }, ' * 17 + ']', "case: 17 children, over the limit of 16 (MAX_CHILDREN)"),
        ('scheduler = "ChainedScheduler"\nchildren = [{ scheduler = "ChainedScheduler", children = [{ scheduler = '
         '"ChainedScheduler", children = [{ scheduler = "ChainedScheduler", children = [{ scheduler = "StepLR" }] }] }] }]',
         "case.children[0].children[0].children[0].children[0]: schedulers nested 5 levels deep, over the limit of 4"),
        ('groups = [{ lr = 0.1, tensor_lr = 1 }]', "groups[0].tensor_lr must be true or false"),
        ('groups = [{ lr = 0.1 }, { lr = 0.2, tensor_lr = true }]\ntensor_lr = true',
         "groups[1].tensor_lr: the case's tensor_lr already makes every group's lr a tensor"),
        ('kwargs = { step_size = { tensor = "2" } }', "case.kwargs.step_size: a tensor argument is the table"),
        ('kwargs = { step_size = 2, gamma = [{ tensor = 0.5, dtype = "f64" }] }',
         "case.kwargs.gamma: a tensor argument is the table"),
        ('interventions = [{ at = 1, do = "add-param-group", options = { lr = 0.1, tensor_lr = true } }]',
         "'options' cannot hold ['tensor_lr']"),
        ('interventions = [{ at = 1, do = "resume", load = ["scheduler"], scheduler = { scheduler = "ExponentialLR", '
         'kwargs = { gamma = 0.5 } } }]', "resume at 1 rebuilds a ExponentialLR, but the case's scheduler is a StepLR"),
        ('interventions = [{ at = 1, do = "resume", load = ["scheduler"], scheduler = { name = "StepLR" } }]',
         "'scheduler' must be a table with keys"),
        ('interventions = [{ at = 1, do = "resume", load = ["scheduler"], weights_only = "yes" }]',
         "'weights_only' must be true or false"),
        ('interventions = [{ at = 1, do = "scheduler-steps", count = 1, epoch = "2" }]', "'epoch' must be a number"),
        ('protocol = "step-epoch"\nepochs = [0, 1, 2, 3]\n'
         'interventions = [{ at = 1, do = "scheduler-steps", count = 1, epoch = 2 }]',
         "under protocol step-epoch every step already has its epoch"),
    ],
)
def test_schema_errors_name_file_line_and_case(tmp_path, extra, message):
    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\n' + extra + "\n"
    with pytest.raises(CaseError) as info:
        cases.load_cases(write(tmp_path, body))
    text = str(info.value)
    assert "steplr.toml:13: steplr/b: " in text, text  # 13 = the line of the case's id
    assert message in text and "\n" not in text


def test_observe_momentum_adds_the_momentum_column_and_feature(tmp_path):
    """Without a scheduler driving momentum, observe_momentum alone makes the column graded (spec 5.2)."""
    from conformance.compare import compared_columns
    from conformance.model import AdapterInfo

    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\nkwargs = { step_size = 2 }\noptimizer = "Adam"\n' \
        'observe_momentum = true\n'
    plain, observed = cases.load_cases(write(tmp_path, body))
    info = AdapterInfo(name="x", version="0", schedulers=frozenset(cases.SCHEDULERS))
    assert not plain.observes_momentum and "momentum" not in compared_columns(plain, info)
    assert not observed.drives_momentum and observed.observes_momentum
    assert "momentum" in compared_columns(observed, info) and "momentum" in observed.features()


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, GOOD)
    write(tmp_path, GOOD.replace('scheduler = "StepLR"', 'scheduler = "StepLR"'), name="steplr2.toml")
    with pytest.raises(CaseError):
        cases.load_cases(tmp_path)  # steplr2.toml's ids must start with 'steplr2/' - and would duplicate


def test_duplicate_id_in_one_file(tmp_path):
    with pytest.raises(CaseError, match="duplicate id"):
        cases.load_cases(write(tmp_path, GOOD + '\n[[case]]\nid = "steplr/a"\nwhy = "again"\n'))


def test_id_must_match_file(tmp_path):
    with pytest.raises(CaseError, match="must start with 'steplr/'"):
        cases.load_cases(write(tmp_path, GOOD.replace("steplr/a", "other/a")))


def test_invalid_toml_is_one_line(tmp_path):
    with pytest.raises(CaseError, match="invalid TOML"):
        cases.load_cases(write(tmp_path, "[[case]\n"))


def test_select_filters():
    loaded = cases.load_cases()
    assert all(c.id.startswith("steplr/") for c in cases.select(loaded, ["steplr/*"]))
    assert all("StepLR" in c.schedulers for c in cases.select(loaded, schedulers=["steplr"]))


def test_the_bounds_are_the_documented_numbers():
    assert (cases.MAX_STEPS, cases.MAX_GROUPS, cases.MAX_SCHEDULER_DEPTH, cases.MAX_CHILDREN) == (10000, 16, 4, 16)


def test_bounds_admit_their_limits():
    four_deep = {"scheduler": "ChainedScheduler", "children": [{"scheduler": "ChainedScheduler", "children": [
        {"scheduler": "ChainedScheduler", "children": [{"scheduler": "StepLR", "kwargs": {"step_size": 2}}]}]}]}
    case = cases.parse_case({"id": "chainedscheduler/deep", "why": "limits", "groups": [{"lr": 0.1}] * 16,
                             "steps": 10000, **four_deep})
    assert case.steps == 10000 and len(case.groups) == 16


def test_bounds_hold_for_cases_sent_as_json():  # what an out-of-process adapter receives
    with pytest.raises(CaseError, match="MAX_STEPS"):
        cases.case_from_json({"id": "steplr/big", "why": "big", "scheduler": "StepLR", "kwargs": {"step_size": 1},
                              "groups": [{"lr": 0.1}], "steps": 10000000})


def test_a_non_utf8_case_file_is_one_line(tmp_path):
    (tmp_path / "steplr.toml").write_bytes(GOOD.encode().replace(b"first", b"f\xefrst\xff"))
    with pytest.raises(CaseError) as info:
        cases.load_cases(tmp_path)
    text = str(info.value)
    assert "steplr.toml:9: not UTF-8 text (byte 0xef)" in text and "\n" not in text


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    write(tmp_path, GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\nsteps = 0\n'
          '\n[[case]]\nid = "steplr/c"\nwhy = "third"\nbogus = 1\n')
    write(tmp_path, "[[case]\n", name="linearlr.toml")
    with pytest.raises(CaseError) as info:
        cases.load_cases(tmp_path)
    problems = info.value.problems
    assert len(problems) == 3 and all("\n" not in p for p in problems), problems
    assert "linearlr.toml: invalid TOML" in problems[0]
    assert "steplr.toml:13: steplr/b: 'steps' must be" in problems[1] and "steplr/c: unknown keys" in problems[2]
    assert str(info.value).endswith("(and 2 more problem(s))")


@pytest.mark.parametrize(
    "extra, needs, lacks",
    [
        ('kwargs = { step_size = 2, verbose = false }', {"verbose"}, {"tensor_lr", "tensor_args"}),
        ('kwargs = { step_size = 2 }\ngroups = [{ lr = 0.1 }, { lr = 0.2, tensor_lr = true }]',
         {"tensor_lr", "group_tensor_lr"}, {"tensor_args", "verbose"}),
        ('kwargs = { step_size = 2 }\ntensor_lr = true', {"tensor_lr"}, {"group_tensor_lr"}),
        ('kwargs = { step_size = 2, gamma = { tensor = 0.5 } }', {"tensor_args"}, {"tensor_lr", "group_tensor_lr"}),
        ('scheduler = "CyclicLR"\nkwargs = { base_lr = 0.01, max_lr = [{ tensor = 0.1 }] }', {"tensor_args"},
         {"tensor_lr"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "resume", load = ["scheduler"], scheduler = '
         '{ scheduler = "StepLR", kwargs = { step_size = 3 } } }]', {"partial_resume", "state_dict",
                                                                   "resume_other_arguments"}, {"tensor_args"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "resume", load = ["scheduler"] }]',
         {"partial_resume"}, {"resume_other_arguments"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "resume", load = ["scheduler"], '
         'weights_only = false }]', {"partial_resume", "state_dict", "weights_only"}, {"resume_other_arguments"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "resume", load = ["scheduler"] }]',
         {"partial_resume"}, {"weights_only"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "scheduler-steps", count = 1, epoch = 2.5 }]',
         {"scheduler_steps", "mixed_step_epoch", "step_epoch", "fractional_epoch"}, set()),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "scheduler-steps", count = 1, epoch = 2 }]',
         {"mixed_step_epoch", "step_epoch"}, {"fractional_epoch"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 1, do = "scheduler-steps", count = 2 }]',
         {"scheduler_steps"}, {"mixed_step_epoch", "step_epoch"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 0, do = "add-scheduler", from = 2, scheduler = '
         '{ scheduler = "ExponentialLR", kwargs = { gamma = 0.9 } } }]', {"add_scheduler", "add_scheduler_from"},
         {"replace_scheduler"}),
        ('kwargs = { step_size = 2 }\ninterventions = [{ at = 2, do = "add-scheduler", from = 2, replace = true, '
         'scheduler = { scheduler = "ExponentialLR", kwargs = { gamma = 0.9 } } }]',
         {"add_scheduler", "replace_scheduler"}, {"add_scheduler_from"}),
    ],
)
def test_the_new_keys_need_their_features(tmp_path, extra, needs, lacks):
    """verbose, a group's own tensor_lr and tensor arguments each need their feature (spec 7.1), so an adapter that
    does not declare it gets the case as unsupported instead of silently ignoring the key."""
    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\n' + extra + "\n"
    case = cases.load_cases(write(tmp_path, body))[1]
    assert needs <= case.features() and not lacks & case.features()


def test_a_group_flag_makes_only_that_group_a_tensor(tmp_path):
    body = GOOD + '\n[[case]]\nid = "steplr/b"\nwhy = "second"\ngroups = [{ lr = 0.1 }, { lr = 0.2, tensor_lr = true }]\n'
    case = cases.load_cases(write(tmp_path, body))[1]
    assert [case.tensor_group(g) for g in range(3)] == [False, True, False]  # an added group: the case's flag


def test_a_scheduler_steps_epoch_is_that_iterations_step_argument_only(tmp_path):
    body = GOOD + ('\n[[case]]\nid = "steplr/b"\nwhy = "second"\n'
                   'interventions = [{ at = 1, do = "scheduler-steps", count = 1, epoch = 6 }]\n')
    case = cases.load_cases(write(tmp_path, body))[1]
    assert [case.step_kwargs(i) for i in range(3)] == [{}, {"epoch": 6}, {}]
